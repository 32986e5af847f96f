// «Record» panel of the audio files page (D §4.6.2): microphone → Web Audio (an AudioWorklet, or a
// ScriptProcessorNode where worklets are missing) → mono samples → 16 kHz 16-bit PCM WAV made in
// the browser (wav.js) → preview in an <audio> → uploaded like any file (sounds.js), so the
// server's content check applies unchanged. The take stops by itself at the limit (2 minutes).
// States (panel.dataset.state): idle → starting → recording → encoding → recorded → uploading.
(function () {
  "use strict";

  var panel = document.getElementById("record-panel");
  if (!panel) { return; }
  var TARGET_RATE = 16000;
  var $ = function (id) { return document.getElementById(id); };
  var startBtn = $("record-start"), stopBtn = $("record-stop"), againBtn = $("record-again");
  var saveBtn = $("record-save"), timer = $("record-timer"), preview = $("record-preview");
  var review = $("record-review"), nameInput = $("record-name"), descInput = $("record-description");
  var progress = $("record-progress"), status = $("record-status"), error = $("record-error");
  var info = $("record-info");
  var msg = panel.dataset;

  var take = null;   // the running capture: {ctx, stream, node, chunks, samples, rate}
  var wavBlob = null, previewUrl = null;

  function maxSeconds() { return parseFloat(panel.dataset.maxSeconds) || 120; }

  function clock(seconds) {
    var s = Math.floor(seconds);
    return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
  }

  function setState(state) {
    panel.dataset.state = state;
    startBtn.hidden = !(state === "idle" || state === "starting");
    startBtn.disabled = state !== "idle";
    stopBtn.hidden = state !== "recording";
    review.hidden = !(state === "recorded" || state === "uploading");
    againBtn.disabled = saveBtn.disabled = state === "uploading";
    timer.classList.toggle("live", state === "recording");
  }

  function showError(text) {
    error.textContent = text || "";
    error.hidden = !text;
  }

  function showTime(seconds) {
    panel.dataset.seconds = seconds.toFixed(2);
    timer.textContent = clock(seconds) + " / " + clock(maxSeconds());
  }

  // why getUserMedia failed, in words the user can act on
  function micError(err) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") { return msg.msgDenied; }
    if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") { return msg.msgNoMic; }
    if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") { return msg.msgBusy; }
    return msg.msgMicFailed;
  }

  function addSamples(block) {
    if (!take || panel.dataset.state !== "recording") { return; }
    var room = Math.round(maxSeconds() * take.rate) - take.samples;
    if (block.length > room) { block = block.subarray(0, Math.max(room, 0)); }
    if (block.length) { take.chunks.push(block); take.samples += block.length; }
    showTime(take.samples / take.rate);
    if (take.samples >= Math.round(maxSeconds() * take.rate)) {
      info.textContent = msg.msgLimit;
      stop();
    }
  }

  function release(t) {
    t.stream.getTracks().forEach(function (track) { track.stop(); });
    try { t.source.disconnect(); t.node.disconnect(); } catch (e) { /* already disconnected */ }
    return t.ctx.close().catch(function () { /* closed already */ });
  }

  // the capture node: an AudioWorklet (module from this origin, allowed by the CSP) when the
  // browser has it, else the older ScriptProcessorNode
  function captureNode(ctx) {
    if (ctx.audioWorklet && window.AudioWorkletNode) {
      return ctx.audioWorklet.addModule(panel.dataset.worklet).then(function () {
        var node = new AudioWorkletNode(ctx, "pult-capture", { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1,
                                                               channelCountMode: "explicit" });
        node.port.onmessage = function (ev) { if (ev.data instanceof Float32Array) { addSamples(ev.data); } };
        return node;
      });
    }
    var sp = ctx.createScriptProcessor(4096, 1, 1);
    sp.onaudioprocess = function (ev) { addSamples(new Float32Array(ev.inputBuffer.getChannelData(0))); };
    return Promise.resolve(sp);
  }

  function start() {
    showError("");
    info.textContent = "";
    discard();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError(window.isSecureContext === false ? msg.msgInsecure : msg.msgUnsupported);
      return;
    }
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { showError(msg.msgUnsupported); return; }
    setState("starting");
    var ctx = new Ctx();  // created inside the click, so the browser lets it run
    navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } })
      .then(function (stream) {
        var t = { ctx: ctx, stream: stream, chunks: [], samples: 0, rate: ctx.sampleRate };
        return captureNode(ctx).then(function (node) {
          t.node = node;
          t.source = ctx.createMediaStreamSource(stream);
          var mute = ctx.createGain();
          mute.gain.value = 0;  // the node must be pulled by the graph, but nothing is played back
          t.source.connect(node);
          node.connect(mute);
          mute.connect(ctx.destination);
          take = t;
          setState("recording");
          showTime(0);
          return ctx.resume();
        }, function (err) { release(t); throw err; });
      })
      .catch(function (err) {
        ctx.close().catch(function () {});
        take = null;
        setState("idle");
        showError(err && err.name ? micError(err) : msg.msgMicFailed);
      });
  }

  // 16 kHz is plenty for telephone prompts (calls use 8 or 16 kHz) and keeps a 2-minute take
  // under 4 MB; resampled by an OfflineAudioContext (the browser's own filter), not by hand
  function resample(samples, rate) {
    if (rate === TARGET_RATE || !samples.length || !window.OfflineAudioContext) {
      return Promise.resolve({ samples: samples, rate: rate });
    }
    var length = Math.max(1, Math.round(samples.length * TARGET_RATE / rate));
    var off = new OfflineAudioContext(1, length, TARGET_RATE);
    var buf = off.createBuffer(1, samples.length, rate);
    buf.copyToChannel(samples, 0);
    var src = off.createBufferSource();
    src.buffer = buf;
    src.connect(off.destination);
    src.start();
    return off.startRendering().then(function (out) {
      return { samples: out.getChannelData(0), rate: TARGET_RATE };
    });
  }

  function stop() {
    if (!take || panel.dataset.state !== "recording") { return; }
    var t = take;
    take = null;
    setState("encoding");
    // the worklet may still hold a partial block: ask for it before closing
    var flushed = t.node.port ? new Promise(function (resolve) {
      var done = false;
      t.node.port.onmessage = function (ev) {
        if (ev.data === "flushed") { done = true; resolve(); return; }
        if (ev.data instanceof Float32Array) {
          var room = Math.round(maxSeconds() * t.rate) - t.samples;
          var block = ev.data.subarray(0, Math.max(0, Math.min(room, ev.data.length)));
          if (block.length) { t.chunks.push(block); t.samples += block.length; }
        }
      };
      t.node.port.postMessage("flush");
      window.setTimeout(function () { if (!done) { resolve(); } }, 500);
    }) : Promise.resolve();
    flushed
      .then(function () { return release(t); })
      .then(function () {
        if (!t.samples) { throw new Error("empty"); }
        showTime(t.samples / t.rate);
        return resample(window.PultWav.concat(t.chunks), t.rate);
      })
      .then(function (r) {
        wavBlob = new Blob([window.PultWav.encode(r.samples, r.rate)], { type: "audio/wav" });
        previewUrl = URL.createObjectURL(wavBlob);
        preview.src = previewUrl;
        panel.dataset.bytes = String(wavBlob.size);
        panel.dataset.rate = String(r.rate);
        if (!nameInput.value.trim()) {
          nameInput.value = msg.defaultName + " " + new Date().toLocaleString(document.documentElement.lang || undefined,
            { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: msg.tz || undefined });  // PBX time
        }
        setState("recorded");
      })
      .catch(function () {
        setState("idle");
        showError(msg.msgEmpty);
      });
  }

  // «Record again»: the take is thrown away (never uploaded)
  function discard() {
    if (previewUrl) { URL.revokeObjectURL(previewUrl); }
    previewUrl = null;
    wavBlob = null;
    preview.removeAttribute("src");
    preview.load();
    delete panel.dataset.bytes;
    showTime(0);
  }

  startBtn.addEventListener("click", start);
  stopBtn.addEventListener("click", stop);
  againBtn.addEventListener("click", function () {
    discard();
    showError("");
    info.textContent = "";
    setState("idle");
  });
  saveBtn.addEventListener("click", function () {
    showError("");
    if (!wavBlob) { return; }
    var name = nameInput.value.trim();
    if (!name) { showError(msg.msgNoName); nameInput.focus(); return; }
    setState("uploading");
    window.PultSounds.upload(wavBlob, { name: name, description: descInput.value.trim(), filename: "recording.wav" },
      { button: saveBtn, progress: progress, status: status, showError: showError,
        msgFailed: msg.msgFailed, msgDone: msg.msgDone,
        onFailed: function () { setState("recorded"); } });
  });
  window.addEventListener("beforeunload", function () { if (take) { release(take); } });

  panel.hidden = false;
  setState("idle");
  showTime(0);
})();
