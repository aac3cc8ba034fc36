// baton console, time travel: the position slider and the position number follow each
// other (data-sync names the other input). The form works without this script too.
"use strict";

(() => {
  document.querySelectorAll("input[data-sync]").forEach((input) => {
    const other = document.getElementById(input.dataset.sync);
    if (!other) return;
    input.addEventListener("input", () => { other.value = input.value; });
  });
})();
