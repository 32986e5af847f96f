// Audio files page: upload with a progress bar (a multipart form: name, description, filename, then
// the file, streamed by the server; the recorder, record.js, uploads the same way), confirmation before deleting, and a quiet refresh while files are converting.
(function () {
  "use strict";

  var xsrf = (document.querySelector('meta[name="xsrf-token"]') || {}).content || "";

  // Send a file (a File or a Blob) to the upload API with a progress bar; `fields` has name,
  // description and filename, `ui` the button, <progress>, status line, an error callback and the
  // messages. On success the page reloads showing the new file (it then polls the conversion).
  // Also used by the recorder (record.js) through window.PultSounds.upload.
  function upload(body, fields, ui) {
    // multipart/form-data, the text fields before the file: a long description travels in the
    // body (not the URL) and the server answers with its own limit message
    var form = new FormData();
    form.append("name", fields.name || "");
    form.append("description", fields.description || "");
    form.append("filename", fields.filename || "");
    form.append("file", body, fields.filename || "upload");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/telephony/sounds");
    xhr.setRequestHeader("X-XSRFToken", xsrf);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        ui.progress.value = Math.round(100 * e.loaded / e.total);
        ui.status.textContent = ui.progress.value + "%";
      }
    });
    function failed(msg) {
      ui.button.disabled = false;
      ui.progress.hidden = true;
      ui.status.textContent = "";
      ui.showError(msg);
      if (ui.onFailed) { ui.onFailed(); }
    }
    xhr.addEventListener("load", function () {
      if (xhr.status === 201) {
        ui.progress.value = 100;
        ui.status.textContent = ui.msgDone;
        document.documentElement.dataset.reloading = "1";  // this page is about to be replaced
        window.location.assign("/telephony/sounds#sound-" + JSON.parse(xhr.responseText).id);
        window.location.reload();
        return;
      }
      var msg = ui.msgFailed;
      try { msg = JSON.parse(xhr.responseText).error.message || msg; } catch (e) { /* not JSON */ }
      failed(msg);
    });
    xhr.addEventListener("error", function () { failed(ui.msgFailed); });
    ui.button.disabled = true;
    ui.progress.hidden = false;
    ui.progress.value = 0;
    ui.status.textContent = "0%";
    xhr.send(form);
  }
  window.PultSounds = { upload: upload };

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.dataset.confirm)) { ev.preventDefault(); }
    });
  });

  var form = document.getElementById("upload-form");
  if (form) {
    var fileInput = document.getElementById("sound-file");
    var nameInput = document.getElementById("sound-name");
    var descInput = document.getElementById("sound-description");
    var button = document.getElementById("upload-button");
    var progress = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var error = document.getElementById("upload-error");
    var maxBytes = parseInt(form.dataset.maxBytes, 10);

    function showError(text) {
      error.textContent = text;
      error.hidden = !text;
    }

    // a name from the file name when the user has not typed one
    fileInput.addEventListener("change", function () {
      showError("");
      var f = fileInput.files[0];
      if (f && !nameInput.value.trim()) { nameInput.value = f.name.replace(/\.[^.]+$/, ""); }
      if (f && f.size > maxBytes) { showError(form.dataset.msgTooLarge); }
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      showError("");
      var f = fileInput.files[0];
      if (!f) { showError(form.dataset.msgNoFile); return; }
      if (!nameInput.value.trim()) { showError(form.dataset.msgNoName); return; }
      if (f.size > maxBytes) { showError(form.dataset.msgTooLarge); return; }
      upload(f, { name: nameInput.value.trim(), description: descInput.value.trim(), filename: f.name },
             { button: button, progress: progress, status: status, showError: showError,
               msgFailed: form.dataset.msgFailed, msgDone: form.dataset.msgDone });
    });
  }

  // While a file waits for or is in conversion, ask the API every 2 s; reload once it settled
  // (the player then gets the converted MP3 and the status its final colour).
  function pending() {
    return document.querySelectorAll('li.sound[data-status="uploaded"], li.sound[data-status="converting"]');
  }
  var polls = 0;
  function poll() {
    if (!pending().length || polls++ > 150) { return; }
    fetch("/api/v1/telephony/sounds", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var changed = false;
        data.items.forEach(function (s) {
          var li = document.querySelector('li.sound[data-sound="' + s.id + '"]');
          if (!li || s.builtin) { return; }
          if (li.dataset.status !== s.status) {
            changed = changed || s.status === "ready" || s.status === "failed";
            li.dataset.status = s.status;
            var pill = li.querySelector('[data-role="status"]');
            if (pill) { pill.textContent = s.status_title; pill.className = "pill status-" + s.status; }
          }
        });
        if (changed) { document.documentElement.dataset.reloading = "1"; window.location.reload(); } else { window.setTimeout(poll, 2000); }
      })
      .catch(function () { window.setTimeout(poll, 4000); });
  }
  if (pending().length) { window.setTimeout(poll, 1500); }
})();
