// The webcare wall: fetches the page's body every few seconds and swaps it in. When the server
// cannot be reached (a restart, the network), it says "reconnecting" and tries again, more slowly
// each time up to every 30 s, until the server answers; a signed-out browser goes to the sign-in form,
// and a page older than the server's files reloads itself.
"use strict";

(function () {
  const body = document.body;
  const panel = document.getElementById("panel");
  const status = document.getElementById("connection");
  const every = Math.max(1, Number(body.dataset.refresh) || 10) * 1000;
  const query = body.dataset.date ? "?date=" + encodeURIComponent(body.dataset.date) : "";
  let failures = 0;
  let lastGood = new Date();

  function clock(moment) {
    return moment.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  function show(state, text) {
    status.textContent = text;
    status.className = "connection " + state;
    body.classList.toggle("stale", state === "reconnecting");
  }

  async function update() {
    let wait = every;
    try {
      const response = await fetch("/panel" + query, {
        cache: "no-store", credentials: "same-origin", headers: { "X-Webcare-Wall": "1" },
      });
      if (response.status === 401) {
        location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
        return;
      }
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      const build = response.headers.get("X-Wall-Build");
      if (build && build !== body.dataset.build) {
        location.reload();
        return;
      }
      panel.innerHTML = await response.text();  // the server's own template, escaped there
      failures = 0;
      lastGood = new Date();
      show("live", "● live " + clock(lastGood));
    } catch (error) {
      failures += 1;
      wait = Math.min(30000, 1000 * 2 ** Math.min(failures - 1, 5));
      show("reconnecting", "⟳ reconnecting… (numbers of " + clock(lastGood) + ")");
    }
    setTimeout(update, wait);
  }

  show("live", "● live " + clock(lastGood));
  setTimeout(update, every);
})();
