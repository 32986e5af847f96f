// AudioWorklet processor for the recorder: copies the first input channel and posts it to the
// page in blocks of about 4096 samples (a message per 128-sample render quantum would be wasteful).
class PultCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(4096);
    this.filled = 0;
    this.port.onmessage = (ev) => {
      if (ev.data === "flush") {
        if (this.filled) { this.port.postMessage(this.block.slice(0, this.filled)); this.filled = 0; }
        this.port.postMessage("flushed");
      }
    };
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      let pos = 0;
      while (pos < channel.length) {
        const take = Math.min(channel.length - pos, this.block.length - this.filled);
        this.block.set(channel.subarray(pos, pos + take), this.filled);
        this.filled += take;
        pos += take;
        if (this.filled === this.block.length) {
          this.port.postMessage(this.block.slice(0));
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("pult-capture", PultCapture);
