// baton console: follows the live stream and redraws the parts of the page a change
// touches. No framework: each live part names the fragment it is drawn from
// (data-live-src) and what it follows (data-live-app, -environment, -promotion).
"use strict";

(() => {
  const state = document.querySelector("[data-live-state]");
  const show = (text, off) => {
    if (state) { state.textContent = text; state.classList.toggle("off", off); }
  };

  const follows = (el, change) => {
    const { liveApp, liveEnvironment, livePromotion, liveAll } = el.dataset;
    if (liveAll !== undefined) return true;
    if (livePromotion) return change.promotion_id === livePromotion
      || (liveApp === change.app && liveEnvironment === change.environment);
    if (liveApp && liveApp !== change.app) return false;
    if (liveEnvironment && change.environment && liveEnvironment !== change.environment) return false;
    return true;
  };

  // fetch `url` (default: the element's own fragment) and put each element of `elements`
  // back as the fragment has it (found by id)
  const redraw = async (el, url = el.dataset.liveSrc, elements = [el]) => {
    const response = await fetch(url, {
      credentials: "same-origin", headers: { Accept: "text/html" }, redirect: "manual",
    });
    if (response.type === "opaqueredirect" || response.status === 401) {
      window.location.reload();  // the session ended: sign in, then back here
      return;
    }
    if (!response.ok) return;
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    for (const old of elements) {
      const fresh = old.id
        ? template.content.getElementById(old.id)
        : template.content.firstElementChild;
      if (fresh && old.isConnected) {
        old.replaceWith(fresh);
        document.dispatchEvent(new CustomEvent("baton:redrawn", { detail: fresh }));
      }
    }
  };

  // elements that name a batch (data-live-batch: a URL, data-live-param: `name=value`) are
  // fetched together: one request for all the rows of a page that changed at once
  const redrawBatch = async (base, elements) => {
    const query = elements.map((el) => el.dataset.liveParam).join("&");
    await redraw(elements[0], `${base}${base.includes("?") ? "&" : "?"}${query}`, elements);
  };

  const pending = new Set();
  let timer = null;
  const schedule = (elements) => {
    elements.forEach((el) => pending.add(el));
    if (timer === null) {
      timer = setTimeout(async () => {
        timer = null;
        // an element redrawn while this batch waited was replaced: redraw its successor
        const batch = [...new Set([...pending].map((el) => (el.isConnected || !el.id
          ? el : document.getElementById(el.id))))].filter((el) => el && el.isConnected);
        pending.clear();
        const batches = new Map();
        for (const el of batch) {
          const base = el.dataset.liveBatch;
          if (base) batches.set(base, [...(batches.get(base) || []), el]);
          else await redraw(el);
        }
        for (const [base, elements] of batches) await redrawBatch(base, elements);
      }, 150);
    }
  };

  const live = () => document.querySelectorAll("[data-live-src]");
  if (live().length === 0) return;
  const query = document.body.dataset.liveQuery || "";
  const source = new EventSource("/live" + query);
  let dropped = false;
  source.addEventListener("open", () => {
    show("live", false);
    if (dropped) schedule(live());  // changes may have passed while away
    dropped = false;
  });
  source.addEventListener("error", () => { dropped = true; show("reconnecting…", true); });
  source.addEventListener("resync", () => schedule(live()));
  source.addEventListener("signed-out", () => { source.close(); window.location.reload(); });
  source.addEventListener("change", (message) => {
    const change = JSON.parse(message.data);
    schedule([...live()].filter((el) => follows(el, change)));
    document.dispatchEvent(new CustomEvent("baton:change", { detail: change }));
  });
})();

// times: shown in UTC by the server, in the reader's zone (with its offset) here
(() => {
  const offset = (date) => {
    const minutes = -date.getTimezoneOffset();
    const sign = minutes >= 0 ? "+" : "-";
    const abs = Math.abs(minutes);
    return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  };
  const local = (root) => {
    root.querySelectorAll("time[datetime]").forEach((el) => {
      const date = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) return;
      const pad = (n) => String(n).padStart(2, "0");
      el.textContent = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
        + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${offset(date)}`;
    });
  };
  local(document);
  document.addEventListener("baton:redrawn", (event) => local(event.detail));
})();
