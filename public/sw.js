// Flightdeck's service worker: keeps the runbook pages a reader has opened, and the assets
// they need, for when the console (or the way to it) is down. Network first: a page is always
// the console's latest when it answers; only when it does not is the kept copy shown, marked
// as an offline copy with the time it was kept, and without its scripts (nothing on it can
// reach the console then). Signing out clears what is kept (Clear-Site-Data).
"use strict";

const CACHE = "flightdeck-runbooks-v1";
const KEPT_AT = "x-flightdeck-kept-at";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function isRunbookPage(url) {
  return (
    (url.pathname === "/runbooks" || url.pathname.startsWith("/runbooks/")) &&
    url.pathname !== "/runbooks/export.html"
  );
}

function isAsset(url) {
  return url.pathname.startsWith("/pkg/") || url.pathname === "/favicon.svg";
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const page = isRunbookPage(url);
  if (!page && !isAsset(url)) return;
  event.respondWith(networkFirst(request, page));
});

async function networkFirst(request, page) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    // Only a page the reader really got: not a redirect to the sign-in page, not an error.
    if (response.ok && !response.redirected && response.type === "basic") {
      const body = await response.clone().arrayBuffer();
      const headers = new Headers(response.headers);
      headers.set(KEPT_AT, String(Date.now()));
      await cache.put(request, new Response(body, { status: 200, headers }));
    }
    return response;
  } catch (offline) {
    const kept = await cache.match(request);
    if (!kept) throw offline;
    return page ? offlineCopy(kept) : kept;
  }
}

// The kept page as a static page: its scripts removed (hydrating it would call a console that
// is not there) and a banner at the top of the body saying what it is.
async function offlineCopy(kept) {
  const at = Number(kept.headers.get(KEPT_AT)) || Date.now();
  const when = new Date(at).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const html = (await kept.text())
    .replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, "")
    .replace(/<link\b[^>]*rel="modulepreload"[^>]*>/gi, "")
    .replace(
      /<body([^>]*)>/i,
      `<body$1><p class="offline-banner" role="status">Offline copy from ${when}: ` +
        `the console cannot be reached. Actions and live health need it.</p>`,
    );
  const headers = new Headers(kept.headers);
  headers.delete("content-length");
  return new Response(html, { status: 200, headers });
}
