// WAV encoding for recordings made in the browser: mono float samples (-1..1, as Web Audio gives
// them) become a 16-bit PCM RIFF/WAVE file — the format the server's content check accepts as any
// upload. Kept apart from the recorder so it can be checked on its own (PultWav.encode).
(function (global) {
  "use strict";

  function writeAscii(view, pos, text) {
    for (var i = 0; i < text.length; i++) { view.setUint8(pos + i, text.charCodeAt(i)); }
  }

  // Float32Array (or array of numbers) at `sampleRate` Hz → ArrayBuffer holding a WAV file:
  // 44-byte header (fmt chunk: PCM, 1 channel, 16 bits) and little-endian samples, clipped to ±1.
  function encode(samples, sampleRate) {
    var rate = Math.round(sampleRate);
    if (!(rate > 0)) { throw new RangeError("sample rate must be positive"); }
    var n = samples.length;
    var buffer = new ArrayBuffer(44 + n * 2);
    var view = new DataView(buffer);
    writeAscii(view, 0, "RIFF");
    view.setUint32(4, 36 + n * 2, true);
    writeAscii(view, 8, "WAVE");
    writeAscii(view, 12, "fmt ");
    view.setUint32(16, 16, true);        // fmt chunk size
    view.setUint16(20, 1, true);         // PCM
    view.setUint16(22, 1, true);         // mono
    view.setUint32(24, rate, true);
    view.setUint32(28, rate * 2, true);  // byte rate
    view.setUint16(32, 2, true);         // block align
    view.setUint16(34, 16, true);        // bits per sample
    writeAscii(view, 36, "data");
    view.setUint32(40, n * 2, true);
    for (var i = 0, pos = 44; i < n; i++, pos += 2) {
      var s = Math.max(-1, Math.min(1, samples[i] || 0));
      view.setInt16(pos, s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7FFF), true);
    }
    return buffer;
  }

  // Chunks of Float32Array → one Float32Array.
  function concat(chunks) {
    var total = 0, i;
    for (i = 0; i < chunks.length; i++) { total += chunks[i].length; }
    var out = new Float32Array(total), pos = 0;
    for (i = 0; i < chunks.length; i++) { out.set(chunks[i], pos); pos += chunks[i].length; }
    return out;
  }

  global.PultWav = { encode: encode, concat: concat };
})(window);
