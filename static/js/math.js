// Typesets the TeX that notes/rendering.py leaves in .math elements, on page load and after
// every htmx swap. KaTeX (static/vendor/katex/katex.min.js) is loaded with defer before this file.
(function () {
  "use strict";

  function typesetMath(root) {
    if (typeof katex === "undefined") return;
    // data-typeset marks done elements: their text is KaTeX's output now, not TeX.
    root.querySelectorAll(".math:not([data-typeset])").forEach(function (el) {
      var tex = el.textContent;
      el.setAttribute("data-typeset", "");
      katex.render(tex, el, {
        displayMode: el.classList.contains("math-display"),
        throwOnError: false,
        trust: false, // no \href, \url or \html* from note text
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    typesetMath(document.body);
    document.body.addEventListener("htmx:afterSettle", function () {
      typesetMath(document.body);
    });
  });
})();
