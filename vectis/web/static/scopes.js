// The scope presets on /account/mcp. Without this script the page still works: the server reads
// the preset, and the boxes count only for "Custom".
(function () {
  var boxes = document.getElementById("scope-boxes");
  if (!boxes) return;
  var hint = document.getElementById("scope-boxes-hint");
  var presets = document.querySelectorAll("input[name=preset]");
  var custom = document.querySelector("input[name=preset][value=custom]");

  function chosen() {
    var value = "custom";
    presets.forEach(function (radio) { if (radio.checked) value = radio.value; });
    return value;
  }
  // The boxes show what a preset means, so switching to Custom starts from it.
  function show(reset) {
    var preset = chosen();
    if (reset && preset !== "custom") {
      boxes.querySelectorAll("label.scope").forEach(function (label) {
        label.querySelector("input").checked = preset === "write" || label.getAttribute("data-read") === "true";
      });
    }
    boxes.hidden = preset !== "custom";
    hint.hidden = true;
  }
  presets.forEach(function (radio) { radio.addEventListener("change", function () { show(true); }); });
  boxes.addEventListener("change", function () { if (custom) custom.checked = true; });
  show(false);
})();
