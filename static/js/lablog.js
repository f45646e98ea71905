// Lablog's own behaviour: keyboard shortcuts, the editor's autosave and save state,
// the edit-conflict choices, pasting images into the editor, and which snippet fields show for a kind.
(function () {
  "use strict";

  const AUTOSAVE_DELAY_MS = 1200;

  function typingIn(target) {
    return target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]") !== null;
  }

  // --- Keyboard --------------------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
      const editor = document.getElementById("editor");
      if (editor) {
        event.preventDefault();
        editor.requestSubmit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typingIn(event.target)) return;
    const dialog = document.getElementById("shortcuts");
    if (event.key === "/") {
      const search = document.querySelector("header input[type=search]");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (event.key === "?") {
      if (dialog && !dialog.open) dialog.showModal();
    } else {
      const link = document.querySelector(`[data-shortcut="${CSS.escape(event.key)}"]`);
      if (link) {
        event.preventDefault();
        link.click();
      }
    }
  });

  // --- Editor: autosave, save state, conflicts ----------------------------------------------
  // A new note's editor autosaves too: the first autosave creates the note (the form's
  // client_id makes a racing Save or a double click land on that same note), and the page
  // goes on as that note's editor (the server answers with its edit URL and base version).
  function setupEditor(form) {
    if (form.dataset.ready) return;
    form.dataset.ready = "1";
    let timer = null;
    let edits = 0;          // bumped by every keystroke
    let editsAtSend = 0;    // the value of `edits` when the last save left
    let dirty = false;

    function state(name, text) {
      const el = document.getElementById("save-state");
      if (!el) return;
      el.dataset.state = name;
      el.textContent = text;
    }
    function conflictOpen() {
      return document.querySelector("#conflict .conflict") !== null;
    }
    function blankNewNote() {
      // Nothing typed yet in a note that does not exist: no point creating an empty one.
      return !form.elements.base_version.value && !form.elements.title.value.trim() && !form.elements.body.value.trim();
    }
    function schedule() {
      clearTimeout(timer);
      if (!conflictOpen() && !blankNewNote()) {
        timer = setTimeout(function () { htmx.trigger(form, "autosave"); }, AUTOSAVE_DELAY_MS);
      }
    }

    form.addEventListener("input", function () {
      edits += 1;
      dirty = true;
      if (!conflictOpen()) state("dirty", "Not saved yet");
      schedule();
    });

    form.addEventListener("htmx:configRequest", function (event) {
      if (event.detail.elt !== form) return;
      event.detail.path = form.getAttribute("hx-post");
      // Save and Ctrl+S on a new note go to the note; an autosave stays in the editor.
      if (event.detail.triggeringEvent && event.detail.triggeringEvent.type === "autosave") {
        event.detail.parameters.autosave = "1";
      } else if (form.dataset.goToNote) {
        event.detail.parameters.go_to_note = "1";
        delete form.dataset.goToNote;
      }
    });
    // "Create note" goes to the note also when the first autosave created it meanwhile and
    // this save waited behind it: by the time it leaves, the page is that note's editor.
    form.addEventListener("submit", function () {
      if (!form.elements.base_version.value) form.dataset.goToNote = "1";
    }, true);
    function tooLong() {
      const limit = Number(form.elements.body.dataset.maxBytes);
      const size = new Blob([form.elements.body.value]).size;
      if (!limit || size <= limit) return false;
      state("error", `Not saved: this note is too long to save: ${size.toLocaleString("en")} bytes, the limit is ${limit.toLocaleString("en")}. Split it into several notes.`);
      return true;
    }

    form.addEventListener("htmx:beforeRequest", function (event) {
      if (event.detail.elt !== form) return;
      if (conflictOpen() || tooLong()) { event.preventDefault(); return; }
      clearTimeout(timer);
      editsAtSend = edits;
      state("saving", "Saving…");
    });
    // Listened for on the form, which sent the request: the swapped #save-state is replaced,
    // so htmx:afterSwap on it never reaches here. The response is in the page by now.
    form.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt !== form) return;
      const status = event.detail.xhr.status;
      const editUrl = document.getElementById("save-state")?.dataset.editUrl;
      if (editUrl && form.getAttribute("hx-post") !== editUrl) {
        // The note was just created: later saves are edits of it (sent there by
        // htmx:configRequest; re-processing the form would drop a Save queued behind this).
        form.setAttribute("action", editUrl);
        form.setAttribute("hx-post", editUrl);
      }
      if (status === 409) {
        const panel = document.querySelector("#conflict .conflict");
        if (panel) panel.scrollIntoView({ behavior: "smooth", block: "start" });
        return;
      }
      if (status !== 200) return;
      if (edits === editsAtSend) {
        dirty = false;  // also after a save answered with a redirect to the note, which swaps nothing
      } else {
        // Typed while the save was in flight: that newer text still needs a save.
        state("dirty", "Not saved yet");
        schedule();
      }
    });
    // The preview inside the form has its own requests: only the form's own count here.
    form.addEventListener("htmx:sendError", function (event) {
      if (event.detail.elt !== form) return;
      state("error", "Not saved: the server cannot be reached. Retrying…");
      timer = setTimeout(function () { htmx.trigger(form, "autosave"); }, 5000);
    });
    // A refusal page (text that is not UTF-8, say) explains itself in its alert: show why,
    // not only the status code.
    function refusalReason(xhr) {
      if (!(xhr.getResponseHeader("Content-Type") || "").startsWith("text/html")) return "";
      const alert = new DOMParser().parseFromString(xhr.responseText, "text/html").querySelector('[role="alert"]');
      if (!alert) return "";
      const parts = Array.from(alert.querySelectorAll("h1, p")).slice(0, 2).map(function (el) {
        return el.textContent.replace(/\s+/g, " ").trim().replace(/[.:]$/, "");
      });
      return parts.join(". ");
    }
    form.addEventListener("htmx:responseError", function (event) {
      if (event.detail.elt !== form) return;
      const reason = refusalReason(event.detail.xhr);
      state("error", reason
        ? `${reason}. Your text is still here.`
        : `Not saved: the server answered ${event.detail.xhr.status}. Your text is still here; try Save again.`);
    });

    window.addEventListener("beforeunload", function (event) {
      if (dirty) event.preventDefault();
    });

    document.addEventListener("click", function (event) {
      const button = event.target.closest("[data-conflict]");
      if (!button) return;
      const panel = button.closest(".conflict");
      const version = panel.dataset.conflictVersion;
      if (button.dataset.conflict === "take-theirs") {
        form.elements.title.value = JSON.parse(document.getElementById("theirs-title").textContent);
        form.elements.body.value = JSON.parse(document.getElementById("theirs-body").textContent);
        form.elements.tags.value = JSON.parse(document.getElementById("theirs-tags").textContent);
        form.elements.base_version.value = version;
        panel.remove();
        clearTimeout(timer);
        dirty = false;
        state("saved", `Saved · version ${version} (the saved version)`);
        // Not bubbling: refreshes the preview without counting as an edit to autosave.
        form.elements.body.dispatchEvent(new Event("input"));
      } else {
        // Keep mine: save the editor's text on top of the version that won.
        form.elements.base_version.value = version;
        panel.remove();
        form.requestSubmit();
      }
    });
  }

  // --- Forms marked data-submit-once (paper, delete, restore): a double click submits once ----
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (event.defaultPrevented || !form.hasAttribute("data-submit-once")) return;
    if (form.dataset.submitting) {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
  });
  // Coming back to a page from the history cache, its forms may be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (form) { delete form.dataset.submitting; });
  });

  // --- Snippet forms: show the fields of the chosen kind ------------------------------------
  function setupSnippetFields(root) {
    root.querySelectorAll("[data-snippet-fields]").forEach(function (box) {
      const kind = box.querySelector("select[name$=kind]");
      if (!kind) return;
      function show() {
        box.querySelectorAll("[data-kinds]").forEach(function (field) {
          field.hidden = !field.dataset.kinds.split(" ").includes(kind.value);
        });
      }
      kind.addEventListener("change", show);
      show();
    });
  }

  // --- Snippets: drag by the handle to reorder -----------------------------------------------
  let dragged = null;
  document.addEventListener("dragstart", function (event) {
    const handle = event.target.closest && event.target.closest(".drag-handle");
    if (!handle) return;
    dragged = handle.closest(".snippet");
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setDragImage(dragged, 20, 20);
  });
  document.addEventListener("dragover", function (event) {
    const over = dragged && event.target.closest(".snippet");
    if (!over || over === dragged || over.parentNode !== dragged.parentNode) return;
    event.preventDefault();
    const box = over.getBoundingClientRect();
    over.parentNode.insertBefore(dragged, event.clientY < box.top + box.height / 2 ? over : over.nextSibling);
  });
  document.addEventListener("dragend", function () {
    if (!dragged) return;
    const list = dragged.parentNode;
    dragged.classList.remove("dragging");
    dragged = null;
    const order = Array.from(list.querySelectorAll(":scope > .snippet")).map(function (li) { return li.dataset.snippetId; });
    htmx.ajax("POST", list.dataset.reorderUrl, { target: "#snippets", swap: "outerHTML", values: { order: order.join(",") } });
  });

  // --- Task lists on the note page: a tick saves the note (a new version, stale pages refused) ---
  function setupTasks() {
    const body = document.querySelector(".note-body[data-task-url]");
    if (!body) return;
    const boxes = Array.from(body.querySelectorAll("input.task-list-item-checkbox"));
    const status = document.querySelector(".task-state");
    boxes.forEach(function (box) { box.disabled = false; });
    function say(text, isError) {
      status.hidden = !text;
      status.textContent = text;
      status.classList.toggle("error", Boolean(isError));
    }
    body.addEventListener("change", function (event) {
      const box = event.target;
      if (!box.matches("input.task-list-item-checkbox")) return;
      const token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"];
      const data = new URLSearchParams({ index: String(boxes.indexOf(box)), checked: String(box.checked), base_version: body.dataset.version });
      boxes.forEach(function (b) { b.disabled = true; });  // one save at a time: each builds on the last
      say("Saving…");
      fetch(body.dataset.taskUrl, { method: "POST", body: data, headers: { "x-csrftoken": token }, credentials: "same-origin" })
        .then(function (response) { return response.json().then(function (json) { return { ok: response.ok, json: json }; }); })
        .then(function (result) {
          if (!result.ok) throw new Error(result.json.message || "Not saved.");
          body.dataset.version = result.json.version;
          say(`Saved · version ${result.json.version}`);
          boxes.forEach(function (b) { b.disabled = false; });
        })
        .catch(function (error) {
          box.checked = !box.checked;  // the page shows what is stored
          say(error.message.startsWith("Not saved") ? error.message : "Not saved: the server cannot be reached.", true);
          boxes.forEach(function (b) { b.disabled = false; });
        });
    });
  }

  // --- Editor: paste or drop an image (or PDF) to attach it to the note and show it -----------
  // The note's attach URL is on the save state once the note exists (a new note's first
  // autosave creates it); the server answers with the name it kept, written as ![[name]].
  function setupAttachOnPaste(form) {
    const body = form.elements.body;
    const status = form.querySelector(".attach-state");
    if (!body || !status) return;
    function say(text, error) {
      status.textContent = text;
      status.hidden = !text;
      status.classList.toggle("error", Boolean(error));
    }
    function nameFor(file) {
      // A pasted screenshot is "image.png" every time: name it as Obsidian does, by the time.
      if (file.name && file.name !== "image.png") return file.name;
      const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
      return `Pasted image ${stamp}.${(file.type.split("/")[1] || "png").replace("jpeg", "jpg")}`;
    }
    function attach(files) {
      const wanted = Array.from(files || []).filter(function (f) { return /^image\/|^application\/pdf$/.test(f.type); });
      if (!wanted.length) return false;
      const url = document.getElementById("save-state").dataset.attachUrl;
      if (!url) {
        say("Files can be attached once the note is saved: type a few words, then paste the image again.", true);
        return true;
      }
      const token = form.elements.csrfmiddlewaretoken.value;
      wanted.forEach(function (file) {
        const data = new FormData();
        data.append("file", file, nameFor(file));
        say(`Attaching ${nameFor(file)}…`);
        fetch(url, { method: "POST", body: data, headers: { "x-csrftoken": token, "hx-request": "true" }, credentials: "same-origin" })
          .then(function (response) {
            const name = response.headers.get("X-Attached-Name");
            if (response.ok && name) return decodeURIComponent(name);
            return response.text().then(function (html) {
              const alert = new DOMParser().parseFromString(html, "text/html").querySelector("[role=alert]");
              throw new Error(alert ? alert.textContent.trim() : `Not attached: the server answered ${response.status}.`);
            });
          })
          .then(function (name) {
            body.focus();
            body.setRangeText(`![[${name}]]`, body.selectionStart, body.selectionEnd, "end");
            body.dispatchEvent(new Event("input", { bubbles: true }));  // autosave and preview
            say(`Attached ${name}.`);
          })
          .catch(function (error) {
            // fetch() fails with a TypeError when the server cannot be reached; ours carry its reason.
            say(error instanceof TypeError ? "Not attached: the server cannot be reached." : error.message, true);
          });
      });
      return true;
    }
    body.addEventListener("paste", function (event) {
      if (attach(event.clipboardData && event.clipboardData.files)) event.preventDefault();
    });
    body.addEventListener("dragover", function (event) {
      if (event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files")) event.preventDefault();
    });
    body.addEventListener("drop", function (event) {
      if (attach(event.dataTransfer && event.dataTransfer.files)) event.preventDefault();
    });
  }

  function init(root) {
    const editor = document.getElementById("editor");
    if (editor) {
      setupEditor(editor);
      setupAttachOnPaste(editor);
    }
    setupSnippetFields(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    setupTasks();
    htmx.onLoad(function (element) { setupSnippetFields(element); });
  });
})();
