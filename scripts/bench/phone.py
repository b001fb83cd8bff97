"""Lighthouse's mobile profile (its default: a mid-range phone on a throttled 4G network,
simulated) on pages of a running console, signed in by the cookie given.

Usage: phone.py BASE_URL COOKIE WORK_DIR PATH...

Prints per page the performance score, Largest Contentful Paint, total blocking time, bytes
transferred and the accessibility score, with the accessibility audits that failed, so a score
under 1.0 says what to fix. Lighthouse comes from npm (LIGHTHOUSE names its binary) and drives
the Chromium that CHROME_PATH names.
"""

import json
import os
import subprocess
import sys


def audit(report, name):
    return report["audits"][name].get("numericValue", 0.0)


def run(base, cookie, work, path):
    out = os.path.join(work, "lighthouse-" + (path.strip("/").replace("/", "-") or "dashboard") + ".json")
    subprocess.run(
        [
            os.environ.get("LIGHTHOUSE", "lighthouse"),
            base + path,
            "--only-categories=performance,accessibility",
            "--output=json",
            f"--output-path={out}",
            "--quiet",
            # Root in a container or CI needs --no-sandbox; the profile is thrown away after.
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
            "--extra-headers=" + json.dumps({"Cookie": cookie}),
        ],
        check=True,
    )
    with open(out) as f:
        report = json.load(f)
    if report.get("runtimeError"):
        sys.exit(f"lighthouse could not load {path}: {report['runtimeError']['message']}")
    performance = report["categories"]["performance"]["score"]
    accessibility = report["categories"]["accessibility"]["score"]
    failed = [
        name
        for name, a in report["audits"].items()
        if a.get("scoreDisplayMode") == "binary" and a.get("score") == 0
        and name in {ref["id"] for ref in report["categories"]["accessibility"]["auditRefs"]}
    ]
    lcp = audit(report, "largest-contentful-paint")
    print(
        f"  {path:<28} performance {performance:.2f}  "
        f"LCP {lcp / 1000:.1f} s  "
        f"TBT {audit(report, 'total-blocking-time'):.0f} ms  "
        f"{audit(report, 'total-byte-weight') / 1024:.0f} KiB  "
        f"accessibility {accessibility:.2f}"
        + (f"  (failed: {', '.join(sorted(failed))})" if failed else "")
    )
    if lcp > 2500:
        print(f"      LCP element: {lcp_element(report)}")


def lcp_element(report):
    """The element Lighthouse took for the largest paint, and its phases, to say what to fix."""
    try:
        tables = report["audits"]["largest-contentful-paint-element"]["details"]["items"]
        node = tables[0]["items"][0]["node"]
        phases = ", ".join(
            f"{p['phase']} {p['timing']:.0f} ms" for p in tables[1]["items"]
        )
        return f"{node.get('selector', '?')} {node.get('snippet', '')[:80]} ({phases})"
    except (KeyError, IndexError, TypeError):
        return "not reported"


def main():
    base, cookie, work, *paths = sys.argv[1:]
    print("Phone (Lighthouse mobile profile; targets: performance >= 0.95, LCP < 2.5 s, "
          "TBT < 200 ms, accessibility 1.00)")
    for path in paths:
        run(base, cookie, work, path)


if __name__ == "__main__":
    main()
