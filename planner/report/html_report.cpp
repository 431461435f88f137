// --format html (see html_report.h): one self-contained page, inline CSS and inline SVG only (no
// scripts, no fonts or images from anywhere), so it can be mailed or attached to an issue. Stable
// hooks for tests: id="chart" holds one <g class="bar"> per plan (chosen first, then the
// alternatives) with data-total-bytes (reserved + CUDA context, what must stay under capacity),
// data-peak-bytes and data-reserved-bytes; id="breakdown-table", id="decision-tree", id="verdict".
#include "planner/format.h"
#include "planner/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "planner/memory/memory_category.h"
#include "planner/report/estimate_report.h"
#include "planner/report/explain_report.h"
#include "planner/report/plan_report.h"

namespace zplan {
namespace {

// The stacked components, bottom-up in the order memory is explained elsewhere (text report):
// the allocated categories (memory_category.h) sum to peak_allocated_bytes, fragmentation brings
// it to reserved, the CUDA context to what nvidia-smi shows.
struct Component {
  const char* key;    // CSS class suffix
  const char* label;  // legend and table row
  const char* color;
  uint64_t MemoryBreakdown::*member;
};
const std::vector<Component>& components() {
  static const std::vector<Component> all = [] {
    std::vector<Component> out;
    for (const CategoryInfo& c : kCategories) out.push_back({c.css_key, c.label, c.color, c.member});
    out.push_back({"fragmentation", "fragmentation (reserved, not allocated)", "url(#hatch)", &MemoryBreakdown::fragmentation_bytes});
    out.push_back({"cuda-context", "CUDA context / NCCL", "#4d4d4d", &MemoryBreakdown::cuda_context_bytes});
    return out;
  }();
  return all;
}

std::string esc(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

double gib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string gib_text(uint64_t bytes) { return fixed(gib(bytes), 2) + " GiB"; }

std::string thousands(double v) {
  std::string digits = std::to_string(static_cast<long long>(std::llround(v)));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

struct Bar {
  std::string name;  // "Chosen" / "Alternative 2"
  const Estimate* e;
};

const char* kCss = R"(
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --ok: #1a7f37; --bad: #cf222e; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px 28px 48px; color: var(--fg); background: #fff;
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.subtitle { color: var(--muted); margin: 0 0 16px; }
#verdict { border-left: 6px solid var(--ok); background: #dafbe1; padding: 10px 14px; border-radius: 4px; }
#verdict.oom { border-left-color: var(--bad); background: #ffebe9; }
#verdict { font-weight: 600; }
#verdict ul { font-weight: 400; }
#verdict ul { margin: 6px 0 0; }
svg#chart { width: 100%; height: auto; display: block; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; fill: var(--fg); }
svg .bar-label { font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .bar-label .muted, svg .axis text { fill: var(--muted); font-weight: 400; }
svg .total { font-weight: 700; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .grid { stroke: #eef1f4; }
svg .capacity { stroke: var(--bad); stroke-width: 2; }
svg .limit { stroke: #9a6700; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .capacity-label { fill: var(--bad); font-weight: 600; }
svg .limit-label { fill: #9a6700; }
svg .seg { stroke: #fff; stroke-width: 0.5; }
ul.legend { list-style: none; padding: 0; margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 6px 18px; }
ul.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { width: 14px; height: 14px; border-radius: 2px; display: inline-block; }
.swatch-fragmentation { background: repeating-linear-gradient(45deg, #bab0ac 0 3px, #eeeae8 3px 6px); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { vertical-align: bottom; white-space: normal; font-weight: 600; }
tr.total td { font-weight: 700; }
tr.sub td { color: var(--muted); }
.strategy { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
thead .strategy { font-family: inherit; font-size: 11px; font-weight: 400; color: var(--muted); }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 22px; }
ul.tree { padding-left: 0; }
ul.tree li { position: relative; padding: 3px 0 3px 14px; }
ul.tree ul li::before { content: ""; position: absolute; left: -8px; top: 0; bottom: 0; border-left: 1px solid #8c959f; }
ul.tree ul li::after { content: ""; position: absolute; left: -8px; top: 13px; width: 16px; border-top: 1px solid #8c959f; }
ul.tree ul li:last-child::before { bottom: auto; height: 13px; }
.tag { display: inline-block; font-size: 11px; font-weight: 700; padding: 0 6px; border-radius: 8px; color: #fff; margin-right: 6px; }
.tag.fits { background: var(--ok); }
.tag.oom { background: var(--bad); }
.reading { color: var(--muted); }
li.chosen { font-weight: 600; }
li.chosen .reading { font-weight: 400; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
)";

// Tick spacing in GiB giving at most ~10 grid lines.
double tick_step(double max_gib) {
  for (double s : {0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 500.0, 1000.0})
    if (max_gib / s <= 10.0) return s;
  return std::ceil(max_gib / 10.0);
}

void write_chart(std::ostringstream& o, const std::vector<Bar>& bars, const Scenario& s, const Estimate& chosen) {
  const int64_t L = s.model.layers;
  const uint64_t capacity = chosen.memory.capacity_bytes;
  // Where the fit verdict draws the line: capacity minus the free memory the band asks for.
  const uint64_t limit = chosen.gpu_limit_bytes - std::min(chosen.gpu_limit_bytes, chosen.required_free_bytes);
  uint64_t top = capacity;
  for (const Bar& b : bars) top = std::max(top, b.e->memory.device_total_bytes());
  const double max_gib = gib(top) * 1.04;
  const double x0 = 16, x1 = 960, row_h = 58, y_top = 48;
  const double height = y_top + row_h * static_cast<double>(bars.size()) + 34;
  auto x_of = [&](double g) { return x0 + (x1 - x0) * g / max_gib; };
  o << "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1120 " << fixed(height, 0)
    << "\" role=\"img\" aria-label=\"Per-GPU memory of each plan against device capacity\">\n";
  o << "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
       "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#eeeae8\"/>"
       "<rect width=\"3\" height=\"6\" fill=\"#bab0ac\"/></pattern></defs>\n";
  // Grid and axis (GiB).
  const double step = tick_step(max_gib);
  const double axis_y = y_top + row_h * static_cast<double>(bars.size()) + 4;
  o << "<g class=\"axis\">\n";
  for (double g = 0; g <= max_gib + 1e-9; g += step) {
    const double x = x_of(g);
    o << "<line class=\"grid\" x1=\"" << fixed(x, 1) << "\" y1=\"" << fixed(y_top - 8, 1) << "\" x2=\"" << fixed(x, 1)
      << "\" y2=\"" << fixed(axis_y, 1) << "\"/><text x=\"" << fixed(x, 1) << "\" y=\"" << fixed(axis_y + 16, 1)
      << "\" text-anchor=\"middle\">" << fixed(g, step < 1 ? 1 : 0) << "</text>\n";
  }
  o << "<text x=\"" << fixed(x1 + 12, 1) << "\" y=\"" << fixed(axis_y + 16, 1) << "\">GiB per GPU</text>\n"
    << "<text x=\"" << fixed(x1 + 12, 1) << "\" y=\"" << fixed(y_top - 14, 1) << "\">device total</text>\n</g>\n";
  // Bars.
  for (size_t i = 0; i < bars.size(); ++i) {
    const Estimate& e = *bars[i].e;
    const MemoryBreakdown& m = e.memory;
    const double label_y = y_top + row_h * static_cast<double>(i) + 12;
    const double bar_y = label_y + 7;
    const std::string summary = strategy_summary(e.strategy, L);
    o << "<g class=\"bar" << (i == 0 ? " chosen" : " alternative") << (e.feasible ? " fits" : " oom")
      << "\" id=\"bar-" << i << "\" data-plan=\"" << esc(bars[i].name) << "\" data-strategy=\"" << esc(summary)
      << "\" data-total-bytes=\"" << m.device_total_bytes() << "\" data-peak-bytes=\"" << m.peak_allocated_bytes
      << "\" data-reserved-bytes=\"" << m.reserved_bytes << "\" data-capacity-bytes=\"" << m.capacity_bytes << "\">\n";
    o << "<text class=\"bar-label\" x=\"" << x0 << "\" y=\"" << fixed(label_y, 1) << "\">" << esc(bars[i].name)
      << ": " << esc(summary) << "<tspan class=\"muted\"> \u00b7 " << thousands(e.time.tokens_per_second)
      << " tokens/s" << (e.feasible ? "" : " \u00b7 does not fit") << "</tspan></text>\n";
    double x = x0;
    for (const Component& c : components()) {
      const uint64_t bytes = m.*(c.member);
      if (bytes == 0) continue;
      const double w = x_of(gib(bytes)) - x0;
      o << "<rect class=\"seg seg-" << c.key << "\" data-bytes=\"" << bytes << "\" x=\"" << fixed(x, 2) << "\" y=\""
        << fixed(bar_y, 1) << "\" width=\"" << fixed(w, 2) << "\" height=\"24\" fill=\"" << c.color << "\"><title>"
        << c.label << ": " << gib_text(bytes) << "</title></rect>\n";
      x += w;
    }
    // Totals in one column right of the plot (bars end before x1: the scale includes every total).
    o << "<text class=\"total\" x=\"" << fixed(x1 + 12, 1) << "\" y=\"" << fixed(bar_y + 17, 1) << "\">"
      << gib_text(m.device_total_bytes()) << "</text>\n</g>\n";
  }
  // Capacity and the fit limit (capacity minus the band), labelled on two lines so that
  // they never overlap.
  const double cap_x = x_of(gib(capacity)), lim_x = x_of(gib(limit));
  // A label sits left of its line, or right of it when the line is too close to the left edge
  // (a plan far over capacity squeezes capacity to the left); ~7 px per character at 12 px.
  auto line_label = [&](const char* cls, double x, double y, const std::string& text) {
    const bool left = x - 7.0 * static_cast<double>(text.size()) > x0;
    o << "<text class=\"" << cls << "\" x=\"" << fixed(left ? x - 4 : x + 4, 1) << "\" y=\"" << fixed(y, 1)
      << "\" text-anchor=\"" << (left ? "end" : "start") << "\">" << text << "</text>\n";
  };
  o << "<line class=\"capacity\" x1=\"" << fixed(cap_x, 1) << "\" y1=\"" << fixed(y_top - 26, 1) << "\" x2=\""
    << fixed(cap_x, 1) << "\" y2=\"" << fixed(axis_y, 1) << "\"/>\n";
  line_label("capacity-label", cap_x, y_top - 30, "capacity " + gib_text(capacity));
  if (limit > 0 && limit < capacity) {
    o << "<line class=\"limit\" x1=\"" << fixed(lim_x, 1) << "\" y1=\"" << fixed(y_top - 12, 1) << "\" x2=\""
      << fixed(lim_x, 1) << "\" y2=\"" << fixed(axis_y, 1) << "\"/>\n";
    line_label("limit-label", lim_x, y_top - 14, "fit limit " + gib_text(limit) + " (capacity minus the band)");
  }
  o << "</svg>\n";
}

void write_legend(std::ostringstream& o) {
  o << "<ul class=\"legend\" id=\"legend\">\n";
  for (const Component& c : components()) {
    o << "<li><span class=\"swatch swatch-" << c.key << "\"";
    if (c.color[0] == '#') o << " style=\"background:" << c.color << "\"";
    o << "></span>" << c.label << "</li>\n";
  }
  o << "</ul>\n";
}

void write_table(std::ostringstream& o, const std::vector<Bar>& bars, const Scenario& s) {
  o << "<table id=\"breakdown-table\">\n<thead><tr><th>GiB per GPU (busiest rank)</th>";
  for (const Bar& b : bars)
    o << "<th>" << esc(b.name) << "<br><span class=\"strategy\">" << esc(strategy_summary(b.e->strategy, s.model.layers))
      << "</span></th>";
  o << "</tr></thead>\n<tbody>\n";
  auto row = [&](const std::string& cls, const std::string& name, auto value) {
    o << "<tr" << (cls.empty() ? "" : " class=\"" + cls + "\"") << "><td>" << name << "</td>";
    for (const Bar& b : bars) o << "<td>" << value(*b.e) << "</td>";
    o << "</tr>\n";
  };
  for (const CategoryInfo& c : kCategories) {  // the allocated components
    row("", std::string("<span class=\"swatch\" style=\"background:") + c.color + "\"></span> " + c.label,
        [&](const Estimate& e) { return fixed(gib(e.memory.*(c.member)), 2); });
  }
  row("total", "= peak allocated", [](const Estimate& e) { return fixed(gib(e.memory.peak_allocated_bytes), 2); });
  row("", "<span class=\"swatch swatch-fragmentation\"></span> + fragmentation",
      [](const Estimate& e) { return fixed(gib(e.memory.fragmentation_bytes), 2); });
  row("", "<span class=\"swatch\" style=\"background:#4d4d4d\"></span> + CUDA context / NCCL",
      [](const Estimate& e) { return fixed(gib(e.memory.cuda_context_bytes), 2); });
  row("total", "= device total", [](const Estimate& e) { return fixed(gib(e.memory.device_total_bytes()), 2); });
  row("sub", "free at the peak", [](const Estimate& e) { return fixed(gib(e.free_bytes), 2); });
  row("sub", "uncertainty band of the path", [](const Estimate& e) { return fixed(gib(e.uncertainty_bytes), 2); });
  row("sub", "capacity", [](const Estimate& e) { return fixed(gib(e.memory.capacity_bytes), 2); });
  row("sub", "host RAM per node", [](const Estimate& e) { return fixed(gib(e.memory.host.peak_bytes), 2); });
  row("sub", "tokens/s (cluster)", [](const Estimate& e) { return thousands(e.time.tokens_per_second); });
  o << "</tbody>\n</table>\n";
}

void write_tree(std::ostringstream& o, const Scenario& s, const Plan& plan, const EstimateOptions& options) {
  const int64_t L = s.model.layers;
  o << "<div id=\"decision-tree\">\n<ul class=\"tree\">\n<li><strong>Train " << esc(s.model.name) << " at "
    << thousands(static_cast<double>(s.training.seq_len)) << " tokens per sequence on " << s.cluster.world_size()
    << "\u00d7 " << esc(s.cluster.gpu.name) << "?</strong>\n<ul>\n";
  for (const ExplainStep& st : explain_steps(s, plan, options)) {
    const bool fits = st.estimate.feasible;
    o << "<li class=\"step " << (fits ? "fits" : "oom") << "\"><span class=\"tag " << (fits ? "fits\">FITS" : "oom\">OOM")
      << "</span>" << esc(st.question) << " <span class=\"strategy\">[" << esc(strategy_summary(st.strategy, L))
      << "]</span>\n<ul><li class=\"reading\">\u2192 " << esc(st.reading) << "</li></ul></li>\n";
  }
  o << "<li class=\"chosen\">chosen: <span class=\"strategy\">" << esc(strategy_summary(plan.chosen.strategy, L))
    << "</span>\n<ul><li class=\"reading\">";
  if (plan.feasible) {
    o << "the highest predicted throughput among " << plan.evaluated << " evaluated candidates ("
      << thousands(plan.chosen.time.tokens_per_second) << " tokens/s";
    if (!plan.alternatives.empty())
      o << " vs " << thousands(plan.alternatives.front().time.tokens_per_second) << " for the runner-up";
    o << "), leaving " << esc(format_bytes(plan.chosen.free_bytes)) << " free at the peak ("
      << esc(uncertainty_text(plan.chosen)) << ")";
  } else {
    o << "nothing fits; this is the closest miss";
  }
  o << "</li></ul></li>\n</ul>\n</li>\n</ul>\n</div>\n";
}

}  // namespace

std::string plan_to_html(const Scenario& s, const Plan& plan, const EstimateOptions& options) {
  std::vector<Bar> bars{{"Chosen", &plan.chosen}};
  for (size_t i = 0; i < plan.alternatives.size(); ++i)
    bars.push_back({"Alternative " + std::to_string(i + 1), &plan.alternatives[i]});
  const Estimate& e = plan.chosen;
  const std::string gpus = std::to_string(s.cluster.world_size()) + "\u00d7 " + s.cluster.gpu.name;
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>zplan: " << esc(s.model.name)
    << " on " << esc(gpus) << ", seq " << s.training.seq_len << "</title>\n<style>" << kCss << "</style>\n</head>\n<body>\n";
  o << "<h1 id=\"title\">" << esc(s.model.name) << " on " << esc(gpus) << ", seq "
    << thousands(static_cast<double>(s.training.seq_len)) << ", predicting " << esc(stack_summary(s.training)) << "</h1>\n";
  o << "<p class=\"subtitle\">" << thousands(static_cast<double>(e.parameters) / 1e6) << "M parameters \u00b7 "
    << esc(s.cluster.gpu.display_name.empty() ? s.cluster.gpu.name : s.cluster.gpu.display_name) << " \u00b7 attention "
    << to_string(s.training.attention) << " \u00b7 framework " << to_string(s.training.framework) << " \u00b7 "
    << plan.evaluated << (plan.evaluated == 1 ? " configuration predicted" : " candidates evaluated");
  if (!plan.rejected_layouts.empty())
    o << " \u00b7 " << plan.rejected_layouts.size() << " layouts pruned (model states alone do not fit)";
  o << "</p>\n";
  o << "<section id=\"verdict\" class=\"" << (plan.feasible ? "fits" : "oom") << "\">" << esc(e.verdict);
  if (!plan.feasible && !plan.suggestions.empty()) {
    o << "\n<ul class=\"suggestions\">";
    for (const std::string& sug : plan.suggestions) o << "<li>" << esc(sug) << "</li>";
    o << "</ul>";
  }
  o << "</section>\n";
  o << "<h2>Memory per GPU: " << (bars.size() == 1 ? "the plan" : "chosen plan and alternatives")
    << " against capacity</h2>\n";
  write_chart(o, bars, s, e);
  write_legend(o);
  o << "<p class=\"subtitle\">Peak of the chosen plan in phase " << to_string(e.memory.peak_phase)
    << "; largest tensor live there: " << esc(e.largest_at_peak) << ". Bars show the composition at the peak; "
    << "allocated components sum to the peak allocated bytes, fragmentation brings them to reserved, the CUDA context "
    << "to what nvidia-smi shows.</p>\n";
  o << "<h2>Breakdown</h2>\n";
  write_table(o, bars, s);
  o << "<h2>Decision tree</h2>\n";
  write_tree(o, s, plan, options);
  o << "<footer>Generated by zplan. Predictions for the busiest rank; GiB = 2<sup>30</sup> bytes.</footer>\n"
    << "</body>\n</html>\n";
  return o.str();
}

}  // namespace zplan
