#!/usr/bin/env bash
# Browser test of `zplan --format html`: renders the report in headless Chromium for a scenario
# that fits (Qwen3-30B-A3B, 16K tokens, 8xH100) and one where nothing fits (Llama-3.1-70B on one
# H100), then checks from the DOM Chromium built that the chart has one bar per plan whose totals
# match the same run's --format json, that the verdict and the decision tree are there, and that a
# screenshot is a non-empty PNG.
#
#   tests/cli/html_report_test.sh path/to/zplan [output-dir]
#
# Exit 77 (ctest SKIP_RETURN_CODE) only when no Chromium is installed (Debian: apt-get install
# chromium). Screenshots and dumped DOMs stay in output-dir (default: a temporary directory).
set -euo pipefail

zplan=${1:?usage: html_report_test.sh path/to/zplan [output-dir]}

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
done
if [[ -z $browser ]]; then
  echo "SKIP: no chromium installed (apt-get install -y chromium)"
  exit 77
fi
out=${2:-$(mktemp -d)}
mkdir -p "$out"

# Headless, offline, no profile state: the page must render from the file alone.
run_browser() {
  local profile
  profile=$(mktemp -d)
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" "$@" 2>>"$out/chromium.log"
  rm -rf "$profile"
}

check_scenario() {
  local name=$1 want_rc=$2
  shift 2
  local html="$out/$name.html" json="$out/$name.json" dom="$out/$name.dom.html" png="$out/$name.png"
  local rc=0
  "$zplan" "$@" --format html --out "$html" 2>/dev/null || rc=$?
  [[ $rc == "$want_rc" ]] || { echo "FAIL $name: zplan --format html exited $rc, expected $want_rc"; return 1; }
  rc=0
  "$zplan" "$@" --format json >"$json" 2>/dev/null || rc=$?
  [[ $rc == "$want_rc" ]] || { echo "FAIL $name: zplan --format json exited $rc, expected $want_rc"; return 1; }
  if grep -Eiq '<script|<link|@import|url\((https?:)?//' "$html"; then
    echo "FAIL $name: the page is not self-contained (script, link or remote url)"
    return 1
  fi

  run_browser --dump-dom "file://$html" >"$dom"
  python3 - "$dom" "$json" "$name" <<'PY'
import html.parser, json, re, sys

dom_path, json_path, name = sys.argv[1:4]

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.bars, self.ids, self.stack, self.text = [], set(), [], {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "g" and "bar" in (a.get("class") or "").split():
            self.bars.append(a)
        self.stack.append(a.get("id"))
        for i in self.stack:
            if i:
                self.text.setdefault(i, "")
    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()
    def handle_data(self, data):
        for i in self.stack:
            if i:
                self.text[i] = self.text.get(i, "") + data

page = Page()
page.feed(open(dom_path, encoding="utf-8").read())
j = json.load(open(json_path, encoding="utf-8"))
errors = []
for needed in ("chart", "verdict", "decision-tree", "breakdown-table", "legend", "title"):
    if needed not in page.ids:
        errors.append(f"no element with id={needed}")

alternatives = j.get("alternatives", [])
if len(page.bars) != 1 + len(alternatives):
    errors.append(f"{len(page.bars)} bars in the chart, expected 1 chosen + {len(alternatives)} alternatives")
gpu = j["memory"]["gpu"]
expected = [(gpu["device_total_bytes"], gpu["peak_bytes"], gpu["reserved_bytes"])]
expected += [(None, a["peak_bytes"], a["reserved_bytes"]) for a in alternatives]
for i, (bar, (total, peak, reserved)) in enumerate(zip(page.bars, expected)):
    got_total = int(bar["data-total-bytes"])
    if total is not None and got_total != total:
        errors.append(f"bar {i}: data-total-bytes {got_total} != json device_total_bytes {total}")
    if int(bar["data-peak-bytes"]) != peak:
        errors.append(f"bar {i}: data-peak-bytes {bar['data-peak-bytes']} != json peak_bytes {peak}")
    if int(bar["data-reserved-bytes"]) != reserved:
        errors.append(f"bar {i}: data-reserved-bytes {bar['data-reserved-bytes']} != json reserved_bytes {reserved}")
    if got_total < int(bar["data-reserved-bytes"]):
        errors.append(f"bar {i}: total below reserved")

def norm(s):
    return re.sub(r"\s+", " ", s).strip()

verdict = norm(page.text.get("verdict", ""))
if norm(j["verdict"]) not in verdict:
    errors.append(f"verdict text missing: want {j['verdict']!r}, page has {verdict[:200]!r}")
tree = norm(page.text.get("decision-tree", ""))
if "chosen" not in tree or "Baseline" not in tree:
    errors.append("decision tree lacks the baseline or the chosen plan")

if errors:
    print(f"FAIL {name}:\n  " + "\n  ".join(errors))
    sys.exit(1)
print(f"ok {name}: {len(page.bars)} bars, chosen total {expected[0][0]} bytes, verdict {j['verdict'][:40]!r}...")
PY

  rm -f "$png"
  run_browser --screenshot="$png" --window-size=1200,900 "file://$html" >/dev/null
  if [[ ! -s $png ]] || [[ $(head -c 8 "$png" | od -An -tx1 | tr -d ' \n') != "89504e470d0a1a0a" ]]; then
    echo "FAIL $name: no PNG screenshot at $png"
    return 1
  fi
  echo "ok $name: screenshot $png ($(wc -c <"$png") bytes)"
}

check_scenario fits 0 --model qwen3-30b --gpus 8xH100 --seq 16384
check_scenario oom 3 --model llama-3.1-70b --gpus 1xH100 --seq 4096
echo "html report test passed; output in $out"
