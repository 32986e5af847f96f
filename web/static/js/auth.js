// Password forms: the "Save and sign in" button stays disabled until the new password has the
// minimum length (inventory A §1.1); the server checks the full policy anyway.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button[data-min-password]");
  var input = document.getElementById("new_password");
  if (!buttons.length || !input) { return; }
  function update() {
    for (var i = 0; i < buttons.length; i++) {
      var min = parseInt(buttons[i].getAttribute("data-min-password"), 10) || 0;
      buttons[i].disabled = input.value.length < min;
    }
  }
  input.addEventListener("input", update);
  update();
})();
