// Lab result form: offer only the units the chosen test is reported in (the server checks too).
(function () {
  "use strict";
  var form = document.getElementById("lab-result-form");
  var data = document.getElementById("lab-units");
  if (!form || !data) return;
  var units = JSON.parse(data.textContent);
  var test = form.querySelector("select[name=test]");
  var unit = form.querySelector("select[name=unit]");
  if (!test || !unit) return;
  var all = Array.prototype.map.call(unit.options, function (o) { return o.value; });

  function update(event) {
    var allowed = units[test.value];
    Array.prototype.forEach.call(unit.options, function (option) {
      // On load, keep what was typed (a refused unit stays visible next to its error).
      var show = !option.value || !allowed || allowed.indexOf(option.value) !== -1 ||
        (!event && option.value === unit.value);
      option.hidden = !show;
      option.disabled = !show;
    });
    if (event && allowed && allowed.indexOf(unit.value) === -1) {
      unit.value = allowed.length ? allowed[0] : "";
    }
  }
  if (all.length) {
    test.addEventListener("change", update);
    update(null);
  }
})();
