// Registers the service worker that keeps runbooks readable offline (public/sw.js). Browsers
// allow one only in a secure context: HTTPS, or the console on localhost.
"use strict";
if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/sw.js").catch(() => {
    // Without it the console works as before; only the offline copies are missing.
  });
}
