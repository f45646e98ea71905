// Search UI: the dropdown under the header's search box, and scrolling a note page
// to the passage a search hit points at (#p-<start>) or to a snippet (#snippet-<id>).
(function () {
  "use strict";

  // --- The dropdown: Escape or a click elsewhere closes it; arrows walk through the hits.
  function dropdown() {
    return document.getElementById("search-dropdown");
  }

  function closeDropdown() {
    const panel = dropdown();
    if (panel) panel.replaceChildren();
  }

  document.addEventListener("keydown", function (event) {
    const panel = dropdown();
    if (!panel || !panel.contains(event.target) && !event.target.matches(".searchbox input[type=search]")) return;
    if (event.key === "Escape") {
      closeDropdown();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const links = Array.from(panel.querySelectorAll("a.hit-title, a.all-results"));
    if (!links.length) return;
    const at = links.indexOf(document.activeElement);
    const next = event.key === "ArrowDown" ? Math.min(at + 1, links.length - 1) : at - 1;
    event.preventDefault();
    if (next < 0) document.querySelector(".searchbox input[type=search]").focus();
    else links[next].focus();
  });

  // Switching mode re-runs the search through the input, so its request queue still applies.
  document.addEventListener("change", function (event) {
    if (!event.target.closest(".searchbox .search-modes")) return;
    event.target.form.q.dispatchEvent(new Event("search"));
  });

  document.addEventListener("click", function (event) {
    const box = document.querySelector(".searchbox");
    if (box && !box.contains(event.target)) closeDropdown();
  });

  // --- Scroll-to: the note page finds the passage in its rendered markdown by its words.
  const BLOCKS = "p, li, h1, h2, h3, h4, h5, h6, pre, blockquote, td, th, dt, dd";
  const NOT_THE_NOTE = ".searchbox, .related-notes";

  function words(text) {
    return text
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // [text](url) renders as text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, " ")
      .trim();
  }

  function innermost(matches) {
    return matches.find(function (el) {
      return !matches.some(function (other) { return other !== el && el.contains(other); });
    });
  }

  // The blocks of the rendered note that show the passage's lines, in page order.
  function findPassage(text) {
    const root = document.querySelector(".note-body") || document.querySelector("main");
    if (!root) return [];
    const blocks = Array.from(root.querySelectorAll(BLOCKS))
      .filter(function (el) { return !el.closest(NOT_THE_NOTE); })
      .map(function (el) { return { el: el, text: words(el.textContent) }; });
    const found = [];
    for (const line of text.split(/\n+/).map(words).filter(Boolean).slice(0, 60)) {
      const lineWords = line.split(" ");
      const needle = lineWords.slice(0, 10).join(" ");
      const last = found[found.length - 1];
      if (last && words(last.textContent).includes(needle)) continue; // another line of the same block
      const matches = blocks.filter(function (b) {
        const after = !last || last.compareDocumentPosition(b.el) & Node.DOCUMENT_POSITION_FOLLOWING;
        // A line of one or two words (a heading) must be the whole block, or it would match anywhere.
        return after && (lineWords.length >= 3 ? b.text.includes(needle) : b.text === line);
      }).map(function (b) { return b.el; });
      const el = innermost(matches);
      if (el) found.push(el);
    }
    return found;
  }

  function mark(elements) {
    document.querySelectorAll(".search-hit-passage").forEach(function (old) {
      old.classList.remove("search-hit-passage");
    });
    elements.forEach(function (el) { el.classList.add("search-hit-passage"); });
    elements[0].scrollIntoView({ block: "center" });
  }

  function scrollToHit() {
    const hash = decodeURIComponent(location.hash.slice(1));
    const snippet = /^snippet-\d+$/.test(hash) && document.getElementById(hash);
    if (snippet) {
      mark([snippet]);
      return;
    }
    const passage = /^p-(\d+)$/.exec(hash);
    const source = document.querySelector("[data-passage-url]");
    if (!passage || !source) return;
    fetch(source.dataset.passageUrl + "?start=" + passage[1], { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        const found = data ? findPassage(data.text) : [];
        if (found.length) mark(found);
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scrollToHit);
  else scrollToHit();
  window.addEventListener("hashchange", scrollToHit);
})();
