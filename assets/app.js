// Ferrodesk console and portal behaviour: keyboard shortcuts, live updates over SSE,
// collision warnings, canned responses by picker or /shortcut. Everything degrades to plain
// links and forms without it. No inline script anywhere (the CSP forbids it).
(function () {
  "use strict";

  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function announce(text) {
    var live = document.getElementById("live");
    if (live) { live.textContent = text; }
  }

  function csrf() {
    var holder = document.querySelector("[data-csrf]");
    if (holder) { return holder.getAttribute("data-csrf"); }
    var input = document.querySelector("input[name=_csrf]");
    return input ? input.value : "";
  }

  function post(url, fields) {
    var body = new URLSearchParams(fields);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf() },
      body: body.toString()
    });
  }

  // ---------------------------------------------------------------- inbox selection
  var selected = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-row]")); }
  function select(i) {
    var rs = rows();
    if (!rs.length) { return; }
    selected = Math.max(0, Math.min(rs.length - 1, i));
    rs.forEach(function (r, j) { r.classList.toggle("selected", j === selected); r.setAttribute("aria-selected", j === selected ? "true" : "false"); });
    var link = rs[selected].querySelector("a");
    if (link) { link.focus({ preventScroll: false }); }
  }

  // ---------------------------------------------------------------- composer
  function setMode(mode) {
    var radio = document.querySelector("input[data-mode=" + mode + "]");
    if (radio) { radio.checked = true; }
    var form = document.getElementById("reply-form");
    if (form) { form.classList.toggle("noting", mode === "note"); }
    var body = document.getElementById("body");
    if (body) { body.focus(); }
  }

  function insertCanned(text, replaceFrom) {
    var body = document.getElementById("body");
    if (!body) { return; }
    var v = body.value;
    var start = replaceFrom === undefined ? body.selectionStart : replaceFrom;
    var end = body.selectionEnd;
    body.value = v.slice(0, start) + text + v.slice(end);
    var caret = start + text.length;
    body.setSelectionRange(caret, caret);
    body.focus();
    announce("Canned response inserted");
  }

  function cannedUrl() {
    var body = document.getElementById("body");
    return body ? body.getAttribute("data-canned-url") : null;
  }

  function fetchCanned(query) {
    var url = cannedUrl();
    if (!url) { return Promise.resolve(null); }
    return fetch(url + "?" + query, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : null;
    });
  }

  // "/shortcut" followed by a space or Enter at the caret becomes the canned response.
  function onComposerKey(e) {
    if (e.key !== " " && e.key !== "Enter" && e.key !== "Tab") { return; }
    var body = e.target;
    var upto = body.value.slice(0, body.selectionStart);
    var m = /(^|\s)\/([A-Za-z0-9_-]{1,64})$/.exec(upto);
    if (!m) { return; }
    e.preventDefault();
    var from = upto.length - m[2].length - 1;
    fetchCanned("shortcut=" + encodeURIComponent(m[2])).then(function (text) {
      if (text === null) {
        insertCanned(e.key === "Enter" ? "\n" : " ");
        announce("No canned response /" + m[2]);
        return;
      }
      body.setSelectionRange(from, body.selectionStart);
      insertCanned(text, from);
    });
  }

  // ---------------------------------------------------------------- live updates
  function liveInbox() {
    if (!window.EventSource || !document.querySelector("[data-live=inbox]")) { return; }
    var pending = null;
    var es = new EventSource("/events");
    es.addEventListener("ticket", function (ev) {
      var d = {};
      try { d = JSON.parse(ev.data); } catch (err) { return; }
      if (d.type === "ticket.created") { announce("New ticket " + (d.ticket_number || "") + ": " + (d.subject || "")); }
      if (pending) { return; }
      pending = setTimeout(function () {
        pending = null;
        var tbody = document.getElementById("rows");
        if (tbody && window.htmx) { window.htmx.trigger(tbody, "refresh"); }
      }, 300);
    });
    window.addEventListener("beforeunload", function () { es.close(); });
  }

  function liveTicket() {
    var holder = document.querySelector("[data-ticket]");
    if (!holder) { return; }
    var id = holder.getAttribute("data-ticket");
    var banner = document.getElementById("collision");
    var stale = document.getElementById("stale");
    var submitting = false;
    document.querySelectorAll("form").forEach(function (f) { f.addEventListener("submit", function () { submitting = true; }); });
    if (window.EventSource) {
      var es = new EventSource("/events?ticket=" + encodeURIComponent(id));
      es.addEventListener("ticket", function (ev) {
        var d = {};
        try { d = JSON.parse(ev.data); } catch (err) { return; }
        if (d.ticket_id !== id || submitting) { return; }
        if (d.type === "ticket.comment.added" && window.htmx) {
          // New messages join the thread in place; the composer keeps what was typed. The
          // agent now sees the ticket as it is, so the forms carry its new version.
          window.htmx.ajax("GET", "/tickets/" + encodeURIComponent(id) + "/thread", { target: "#thread", swap: "outerHTML" });
          if (d.version) {
            document.querySelectorAll("input[name=version]").forEach(function (v) { v.value = d.version; });
          }
          var pill = document.querySelector(".meta .pill");
          if (pill && d.status) { pill.textContent = d.status; pill.className = "pill st-" + d.status; }
          announce("New message on this ticket");
        } else if (stale) {
          stale.hidden = false;
          announce("This ticket was changed by someone else");
        }
      });
      es.addEventListener("presence", function (ev) {
        var list = [];
        try { list = JSON.parse(ev.data); } catch (err) { return; }
        if (!banner) { return; }
        if (!list.length) { banner.hidden = true; banner.textContent = ""; return; }
        banner.textContent = list.map(function (p) {
          return p.name + (p.state === "replying" ? " is replying" : " is viewing");
        }).join(" · ");
        banner.classList.toggle("replying", list.some(function (p) { return p.state === "replying"; }));
        banner.hidden = false;
      });
      window.addEventListener("beforeunload", function () { es.close(); });
    }
    var url = "/tickets/" + encodeURIComponent(id) + "/presence";
    var state = "viewing";
    var last = 0;
    function beat(force) {
      var now = Date.now();
      if (!force && now - last < 10000) { return; }
      last = now;
      post(url, { state: state }).catch(function () {});
    }
    beat(true);
    setInterval(function () { beat(true); }, 20000);
    var body = document.getElementById("body");
    if (body) {
      body.addEventListener("input", function () {
        var next = body.value.trim() ? "replying" : "viewing";
        if (next !== state) { state = next; beat(true); } else { beat(false); }
      });
      body.addEventListener("keydown", onComposerKey);
    }
    var pick = document.querySelector("[data-canned-pick]");
    if (pick) {
      pick.addEventListener("change", function () {
        if (!pick.value) { return; }
        fetchCanned("id=" + encodeURIComponent(pick.value)).then(function (text) {
          if (text !== null) { insertCanned(text); }
          pick.value = "";
        });
      });
    }
    document.querySelectorAll("input[data-mode]").forEach(function (r) {
      r.addEventListener("change", function () { setMode(r.getAttribute("data-mode")); });
    });
  }

  // ---------------------------------------------------------------- SLA countdown
  function spanText(secs) {
    var s = Math.abs(Math.round(secs));
    if (s >= 86400) { return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h"; }
    if (s >= 3600) { return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min"; }
    return Math.max(1, Math.floor(s / 60)) + " min";
  }
  function countdown() {
    document.querySelectorAll("[data-due]").forEach(function (b) {
      var due = Date.parse(b.getAttribute("data-due"));
      var left = b.querySelector(".left");
      if (!due || !left || b.classList.contains("sla-paused")) { return; }
      var secs = (due - Date.now()) / 1000;
      if (secs < 0) {
        b.classList.remove("sla-ok", "sla-risk");
        b.classList.add("sla-breach");
        left.textContent = "breached · " + spanText(secs) + " over";
      } else {
        var risk = b.classList.contains("sla-risk") ? "at risk · " : "";
        left.textContent = risk + spanText(secs) + " left";
      }
    });
  }

  // ---------------------------------------------------------------- rule builder
  // Each row shows the picker groups its field or action type uses (data-for) and the typed
  // value only where one is typed (data-text); rows are added from a <template> and removed.
  function shapeRow(row) {
    var kindSelect = row.querySelector("select[data-kind]");
    var picker = row.querySelector("select[data-picker]");
    var text = row.querySelector("[data-text-input]");
    if (!kindSelect || !picker || !text) { return; }
    var kind = kindSelect.value;
    var chosen = kindSelect.options[kindSelect.selectedIndex];
    var typed = !kind || (chosen && chosen.hasAttribute("data-text"));
    var any = false;
    picker.querySelectorAll("optgroup").forEach(function (g) {
      var serves = (g.getAttribute("data-for") || "").split(" ").indexOf(kind) >= 0;
      g.hidden = !serves;
      g.disabled = !serves;
      if (!serves) {
        Array.prototype.forEach.call(g.children, function (o) { o.selected = false; });
      }
      any = any || serves;
    });
    picker.hidden = !any;
    text.hidden = !typed;
  }
  function ruleBuilder() {
    var form = document.getElementById("rule-form");
    if (!form) { return; }
    form.querySelectorAll("[data-row]").forEach(shapeRow);
    form.addEventListener("change", function (e) {
      if (e.target.matches("select[data-kind]")) { shapeRow(e.target.closest("[data-row]")); }
    });
    form.addEventListener("click", function (e) {
      var remove = e.target.closest("[data-remove-row]");
      if (remove) {
        remove.closest("[data-row]").remove();
        announce("Row removed");
        return;
      }
      var add = e.target.closest("[data-add-row]");
      if (!add) { return; }
      var which = add.getAttribute("data-add-row");
      var tpl = document.getElementById(which + "-template");
      var list = document.getElementById(which + "-rows");
      if (!tpl || !list) { return; }
      var next = parseInt(form.getAttribute("data-next"), 10) || 0;
      form.setAttribute("data-next", String(next + 1));
      var holder = document.createElement("div");
      holder.innerHTML = tpl.innerHTML.split("__i__").join(String(next));
      var row = holder.firstElementChild;
      list.appendChild(row);
      shapeRow(row);
      var first = row.querySelector("select");
      if (first) { first.focus(); }
      announce(which === "cond" ? "Condition added" : "Action added");
    });
  }

  // ---------------------------------------------------------------- AI assist
  // "Draft response" (button or the d key) asks for a draft, fills the reply box with it for
  // editing and lists the cited articles; on failure it says so and offers the canned picker.
  function draftResponse() {
    var btn = document.getElementById("draft-btn");
    var body = document.getElementById("body");
    var info = document.getElementById("draft-info");
    if (!btn || !body || btn.disabled) { return; }
    if (body.value.trim() && !window.confirm("Replace what you have written with a draft?")) { return; }
    var tone = document.getElementById("draft-tone");
    btn.disabled = true;
    btn.setAttribute("aria-busy", "true");
    var label = btn.textContent;
    btn.textContent = "Drafting…";
    setMode("reply");
    post(btn.getAttribute("data-draft-url"), { tone: tone ? tone.value : "" }).then(function (r) {
      if (!r.ok) { throw new Error("status " + r.status); }
      return r.json();
    }).then(function (d) {
      body.value = d.draft;
      body.focus();
      body.setSelectionRange(0, 0);
      info.hidden = false;
      info.className = "draft-info";
      info.textContent = "";
      var head = document.createElement("p");
      head.textContent = "Draft (" + d.tone + ", confidence " + Math.round(d.confidence * 100) + "%" +
        (d.clarifying ? ", asks the customer for details" : "") + "). Review and edit before sending.";
      info.appendChild(head);
      if (d.suggestedAttachments && d.suggestedAttachments.length) {
        var ul = document.createElement("ul");
        ul.id = "draft-cites";
        d.suggestedAttachments.forEach(function (a) {
          var li = document.createElement("li");
          li.textContent = "Cites: " + a.title;
          ul.appendChild(li);
        });
        info.appendChild(ul);
      }
      announce("Draft inserted into the reply box");
    }).catch(function () {
      info.hidden = false;
      info.className = "draft-info error";
      info.textContent = "Draft unavailable right now. Try again, or insert a canned response.";
      var retry = document.createElement("button");
      retry.type = "button";
      retry.textContent = "Try again";
      retry.addEventListener("click", draftResponse);
      info.appendChild(document.createTextNode(" "));
      info.appendChild(retry);
      var pick = document.querySelector("[data-canned-pick]");
      if (pick) { pick.focus(); }
    }).then(function () {
      btn.disabled = false;
      btn.removeAttribute("aria-busy");
      btn.textContent = label;
    });
  }

  function assist() {
    var btn = document.getElementById("draft-btn");
    if (btn) { btn.addEventListener("click", draftResponse); }
    document.addEventListener("click", function (e) {
      var copy = e.target.closest("[data-copy]");
      if (!copy) { return; }
      var src = document.getElementById(copy.getAttribute("data-copy"));
      if (!src) { return; }
      var done = function () { announce("Summary copied"); copy.textContent = "Copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(src.value).then(done, function () { src.select(); document.execCommand("copy"); done(); });
      } else { src.select(); document.execCommand("copy"); done(); }
    });
  }

  // ---------------------------------------------------------------- keyboard
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (typing(e)) {
      if (e.key === "Escape") { e.target.blur(); }
      return;
    }
    var help = document.getElementById("help");
    switch (e.key) {
      case "j": select(selected + 1); e.preventDefault(); break;
      case "k": select(selected - 1); e.preventDefault(); break;
      case "Enter": {
        var rs = rows();
        if (selected >= 0 && rs[selected]) { window.location.href = rs[selected].getAttribute("data-href"); e.preventDefault(); }
        break;
      }
      case "r": if (document.getElementById("reply-form")) { setMode("reply"); e.preventDefault(); } break;
      case "n": if (document.getElementById("reply-form")) { setMode("note"); e.preventDefault(); } break;
      case "d": if (document.getElementById("draft-btn")) { draftResponse(); e.preventDefault(); } break;
      case "a": {
        var take = document.getElementById("take-form");
        if (take) { take.submit(); e.preventDefault(); }
        break;
      }
      case "/": {
        var q = document.getElementById("q");
        if (q) { q.focus(); e.preventDefault(); }
        break;
      }
      case "?": if (help && help.showModal) { help.showModal(); e.preventDefault(); } break;
      default: break;
    }
  }

  function init() {
    document.addEventListener("keydown", onKey);
    var helpButton = document.querySelector("[data-help]");
    var help = document.getElementById("help");
    if (helpButton && help && help.showModal) {
      helpButton.addEventListener("click", function () { help.showModal(); });
    }
    rows().forEach(function (r, i) {
      r.addEventListener("click", function (e) {
        if (e.target.tagName === "INPUT" || e.target.tagName === "A") { return; }
        select(i);
      });
    });
    liveInbox();
    liveTicket();
    ruleBuilder();
    assist();
    setInterval(countdown, 30000);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
  document.addEventListener("htmx:afterSwap", function () { selected = -1; });
})();
