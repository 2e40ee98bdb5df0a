// The customer picker on /account/mcp. Without this script the page still works: the Find button
// asks the server for customers by name, and the radio buttons say which limit applies.
(function () {
  var picker = document.getElementById("customer-picker");
  if (!picker) return;
  var filter = document.getElementById("customer-filter");
  var status = document.getElementById("picker-status");
  var complete = picker.getAttribute("data-complete") === "true";
  var labels = picker.querySelectorAll(".picker-list label");
  var only = document.querySelector("input[name=customer_mode][value=only]");
  var initial = status.textContent;

  filter.addEventListener("input", function () {
    var text = filter.value.trim().toLowerCase();
    var shown = 0;
    labels.forEach(function (label) {
      var match = !text || label.getAttribute("data-name").indexOf(text) !== -1 ||
        label.querySelector("input").value.indexOf(text) !== -1;
      label.hidden = !match;
      if (match) shown += 1;
    });
    status.textContent = text ? shown + " of " + labels.length + " shown." + (complete ? "" : " Press Find to search every customer.") : initial;
  });
  // Every customer is already on the page: filtering here keeps what was typed and ticked.
  document.getElementById("find-customers").addEventListener("submit", function (event) {
    if (complete) event.preventDefault();
  });
  // Ticking a customer means limiting the token to the ticked ones.
  picker.addEventListener("change", function (event) {
    if (event.target.name === "customer" && event.target.checked && only) only.checked = true;
  });
})();
