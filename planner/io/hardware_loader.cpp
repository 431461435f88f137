// GPU and cluster profiles (see hardware_loader.h). Built-in files are parsed once, on first use.
#include "planner/io/hardware_loader.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "planner/input_error.h"
#include "planner/io/builtin_data.h"
#include "planner/io/suggest.h"
#include "planner/io/yaml_fields.h"

namespace zplan {

namespace {

constexpr uint64_t kKiB = 1024ull;
constexpr int kMaxGpusPerNode = 1024;
constexpr int kMaxNodes = 100'000;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool is_yaml_path(const std::string& s) {
  const std::string l = lower(s);
  return ends_with(l, ".yaml") || ends_with(l, ".yml");
}

// A size field that may be written as an integer (bytes) or as "512GiB".
uint64_t read_bytes_field(const FieldReader& r, const std::string& key) {
  const std::string text = r.required_string(key);
  return parse_bytes(text, r.where(), r.field_name(key));
}

struct BuiltinGpu {
  GpuSpec spec;
  std::vector<std::string> aliases;
};

const std::vector<std::string> kGpuKeys = {
    "name", "display_name", "aliases", "memory_bytes", "memory_bw_gb_per_s", "bf16_tflops",
    "fp16_tflops", "fp32_tflops", "supports_bf16", "compute_capability", "intra_node_link", "intra_node_bw_gb_per_s",
    "pcie_bw_gb_per_s", "price_per_gpu_hour_usd", "attention_kernel_tflops",
    "matmul_kernel_tflops"};
const std::vector<std::string> kClusterKeys = {"name", "gpu", "gpus_per_node", "nodes", "host_ram_bytes",
                                               "cpu_cores", "inter_node_bw_gb_per_s", "host_memory_bw_gb_per_s"};

std::string file_stem(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = base.find_last_of('.');
  return dot == std::string::npos ? base : base.substr(0, dot);
}

GpuSpec parse_gpu_node(const FieldReader& r, std::vector<std::string>* aliases) {
  r.reject_unknown(kGpuKeys);
  GpuSpec g;
  g.source = r.where();
  g.name = r.optional_string("name").value_or(file_stem(r.where()));
  g.display_name = r.optional_string("display_name").value_or(g.name);
  if (aliases) *aliases = r.optional_string_list("aliases");
  g.memory_bytes = read_bytes_field(r, "memory_bytes");
  if (g.memory_bytes < (uint64_t{1} << 28) || g.memory_bytes > (uint64_t{1} << 44))
    r.fail("memory_bytes", "expected between 256 MiB and 16 TiB, got " + std::to_string(g.memory_bytes));
  g.memory_bw_gb_per_s = r.required_double("memory_bw_gb_per_s", 1, 1e6);
  g.bf16_tflops = r.required_double("bf16_tflops", 0, 1e6);
  g.fp16_tflops = r.required_double("fp16_tflops", 0.001, 1e6);
  g.fp32_tflops = r.required_double("fp32_tflops", 0.001, 1e6);
  g.supports_bf16 = r.required_bool("supports_bf16");
  if (g.supports_bf16 != (g.bf16_tflops > 0))
    r.fail("bf16_tflops", g.supports_bf16 ? "expected > 0 when supports_bf16 is true"
                                          : "expected 0 when supports_bf16 is false");
  g.compute_capability = r.optional_double("compute_capability", 1.0, 20.0).value_or(0);
  g.intra_node_link = r.required_string("intra_node_link");
  g.intra_node_bw_gb_per_s = r.required_double("intra_node_bw_gb_per_s", 0.001, 1e6);
  g.pcie_bw_gb_per_s = r.required_double("pcie_bw_gb_per_s", 0.001, 1e6);
  g.price_per_gpu_hour = r.optional_double("price_per_gpu_hour_usd", 1e-6, 1e6).value_or(0);
  g.attention_kernel_tflops = r.optional_double("attention_kernel_tflops", 0.001, 1e6).value_or(0);
  if (g.attention_kernel_tflops > std::max(g.bf16_tflops, g.fp16_tflops))
    r.fail("attention_kernel_tflops", "expected at most the 16-bit peak (bf16_tflops/fp16_tflops)");
  g.matmul_kernel_tflops = r.optional_double("matmul_kernel_tflops", 0.001, 1e6).value_or(0);
  if (g.matmul_kernel_tflops > std::max(g.bf16_tflops, g.fp16_tflops))
    r.fail("matmul_kernel_tflops", "expected at most the 16-bit peak (bf16_tflops/fp16_tflops)");
  return g;
}

const std::vector<BuiltinGpu>& builtin_gpus() {
  static const std::vector<BuiltinGpu> gpus = [] {
    std::vector<BuiltinGpu> out;
    for (const BuiltinFile& f : builtin_files()) {
      if (f.path.rfind("hardware/gpus/", 0) != 0) continue;
      BuiltinGpu b;
      b.spec = parse_gpu_node(FieldReader(parse_yaml_text(f.content, f.path), f.path), &b.aliases);
      out.push_back(std::move(b));
    }
    std::sort(out.begin(), out.end(),
              [](const BuiltinGpu& a, const BuiltinGpu& b) { return a.spec.name < b.spec.name; });
    return out;
  }();
  return gpus;
}

const BuiltinGpu* find_gpu(const std::string& name) {
  const std::string key = lower(trim(name));
  for (const BuiltinGpu& b : builtin_gpus()) {
    if (lower(b.spec.name) == key) return &b;
    for (const std::string& a : b.aliases)
      if (lower(a) == key) return &b;
  }
  return nullptr;
}

std::vector<std::string> gpu_suggestions(const std::string& query) {
  std::vector<std::string> spellings, owners;
  for (const BuiltinGpu& b : builtin_gpus()) {
    spellings.push_back(b.spec.name);
    owners.push_back(b.spec.name);
    for (const std::string& a : b.aliases) {
      spellings.push_back(a);
      owners.push_back(b.spec.name);
    }
  }
  std::vector<std::string> out;
  for (const std::string& s : closest_names(query, spellings, spellings.size())) {
    const size_t i = static_cast<size_t>(std::find(spellings.begin(), spellings.end(), s) - spellings.begin());
    if (std::find(out.begin(), out.end(), owners[i]) == out.end()) out.push_back(owners[i]);
    if (out.size() == 3) break;
  }
  return out;
}

ClusterSpec parse_cluster_node(const FieldReader& r) {
  r.reject_unknown(kClusterKeys);
  ClusterSpec c;
  c.source = r.where();
  c.name = r.optional_string("name").value_or(file_stem(r.where()));
  c.gpu = load_gpu(r.required_string("gpu"), r.where(), "gpu");
  c.gpus_per_node = static_cast<int>(r.required_int("gpus_per_node", 1, kMaxGpusPerNode));
  c.nodes = static_cast<int>(r.optional_int("nodes", 1, kMaxNodes).value_or(1));
  c.host_ram_bytes = read_bytes_field(r, "host_ram_bytes");
  c.host_ram_origin = "from " + r.where();
  c.cpu_cores = static_cast<int>(r.required_int("cpu_cores", 1, 100'000));
  c.inter_node_bw_gb_per_s = r.optional_double("inter_node_bw_gb_per_s", 0.001, 1e6).value_or(c.inter_node_bw_gb_per_s);
  // Absent: the step-time model assumes kAssumedHostMemoryBwPerGpuGbPerS per GPU (cluster_spec.h).
  c.host_memory_bw_gb_per_s = r.optional_double("host_memory_bw_gb_per_s", 0.001, 1e6).value_or(0.0);
  return c;
}

const std::vector<ClusterSpec>& builtin_clusters() {
  static const std::vector<ClusterSpec> clusters = [] {
    std::vector<ClusterSpec> out;
    for (const BuiltinFile& f : builtin_files()) {
      if (f.path.rfind("hardware/clusters/", 0) != 0) continue;
      out.push_back(parse_cluster_node(FieldReader(parse_yaml_text(f.content, f.path), f.path)));
    }
    std::sort(out.begin(), out.end(), [](const ClusterSpec& a, const ClusterSpec& b) { return a.name < b.name; });
    return out;
  }();
  return clusters;
}

// Splits "8xH100" into 8 and "H100"; false when `flag` is not of that form.
bool split_gpus_flag(const std::string& flag, int64_t* count, std::string* gpu) {
  const std::string s = trim(flag);
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || i > 9 || i + 1 >= s.size()) return false;
  if (s[i] != 'x' && s[i] != 'X' && s[i] != '*') return false;
  *count = std::atoll(s.substr(0, i).c_str());
  *gpu = trim(s.substr(i + 1));
  return !gpu->empty();
}

ClusterSpec cluster_from_flag(const std::string& flag, const std::string& where, const std::string& field);

}  // namespace

uint64_t parse_bytes(const std::string& text_in, const std::string& where, const std::string& field) {
  const std::string text = trim(text_in);
  const std::string expected =
      "expected a positive size such as 12GiB, 512MiB, 1.5TiB, 12g (GiB), 12GB (1e9 bytes) or a byte count, got \"" +
      text_in + "\"";
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string number = text.substr(0, i);
  const std::string unit = lower(trim(text.substr(i)));
  if (number.empty() || std::count(number.begin(), number.end(), '.') > 1 || number == ".")
    throw InputError(where, field, expected);
  long double multiplier = 0;
  if (unit.empty() || unit == "b") multiplier = 1;
  else if (unit == "k" || unit == "kib") multiplier = kKiB;
  else if (unit == "m" || unit == "mib") multiplier = kKiB * kKiB;
  else if (unit == "g" || unit == "gib") multiplier = kKiB * kKiB * kKiB;
  else if (unit == "t" || unit == "tib") multiplier = static_cast<long double>(kKiB * kKiB * kKiB * kKiB);
  else if (unit == "kb") multiplier = 1e3L;
  else if (unit == "mb") multiplier = 1e6L;
  else if (unit == "gb") multiplier = 1e9L;
  else if (unit == "tb") multiplier = 1e12L;
  else throw InputError(where, field, expected);
  const bool fractional = number.find('.') != std::string::npos;
  if (fractional && multiplier == 1) throw InputError(where, field, expected + " (bytes must be whole)");
  if (number.size() > 30) throw InputError(where, field, expected + " (too large)");
  const long double value = std::strtold(number.c_str(), nullptr) * multiplier;
  if (!(value >= 0.5L)) throw InputError(where, field, expected + " (must be more than zero)");
  if (value > 9.2e18L) throw InputError(where, field, expected + " (too large)");
  return static_cast<uint64_t>(std::llround(static_cast<double>(value)));
}

uint64_t parse_size_with_unit(const std::string& text, const std::string& where, const std::string& field) {
  const std::string t = trim(text);
  if (!t.empty() && (std::isdigit(static_cast<unsigned char>(t.back())) || t.back() == '.'))
    throw InputError(where, field, "expected a size with its unit such as 12GiB, 512MiB or 12GB, got \"" + text +
                                       "\" (a bare number would be read as bytes)");
  return parse_bytes(text, where, field);
}

GpuSpec load_gpu(const std::string& name) { return load_gpu(name, "--gpus", ""); }

GpuSpec load_gpu(const std::string& name, const std::string& where, const std::string& field) {
  if (const BuiltinGpu* b = find_gpu(name)) return b->spec;
  if (is_yaml_path(name)) return parse_gpu_yaml(read_text_file(name), name);
  std::string problem = "unknown GPU \"" + name + "\"";
  const std::string hint = did_you_mean(gpu_suggestions(name));
  if (!hint.empty()) problem += "; " + hint;
  throw InputError(where, field, problem);
}

GpuSpec parse_gpu_yaml(const std::string& text, const std::string& source) {
  return parse_gpu_node(FieldReader(parse_yaml_text(text, source), source), nullptr);
}

ClusterSpec parse_cluster_yaml(const std::string& text, const std::string& source) {
  return parse_cluster_node(FieldReader(parse_yaml_text(text, source), source));
}

ClusterSpec load_cluster(const std::string& name_or_path) { return load_cluster(name_or_path, "--cluster", ""); }

ClusterSpec load_cluster(const std::string& name_or_path, const std::string& where, const std::string& field) {
  const std::string key = lower(trim(name_or_path));
  for (const ClusterSpec& c : builtin_clusters())
    if (lower(c.name) == key) return c;
  if (is_yaml_path(name_or_path)) return parse_cluster_yaml(read_text_file(name_or_path), name_or_path);
  int64_t count = 0;
  std::string gpu;
  if (split_gpus_flag(name_or_path, &count, &gpu)) return cluster_from_flag(name_or_path, where, field);
  std::string problem = "unknown cluster \"" + name_or_path + "\" (expected a built-in cluster, a .yaml file or NxGPU)";
  const std::string hint = did_you_mean(closest_names(name_or_path, builtin_cluster_names(), 3));
  if (!hint.empty()) problem += "; " + hint;
  throw InputError(where, field, problem);
}

ClusterSpec cluster_from_gpus_flag(const std::string& flag) { return cluster_from_flag(flag, "--gpus", ""); }

namespace {

ClusterSpec cluster_from_flag(const std::string& flag, const std::string& where, const std::string& field) {
  int64_t count = 0;
  std::string gpu_name;
  if (!split_gpus_flag(flag, &count, &gpu_name))
    throw InputError(where, field, "expected NxGPU such as 8xH100, 4xV100 or 3x3080-20g, got \"" + flag + "\"");
  if (count < 1 || count > kMaxGpusPerNode)
    throw InputError(where, field, "expected between 1 and " + std::to_string(kMaxGpusPerNode) +
                                       " GPUs per node, got \"" + flag + "\"");
  const GpuSpec gpu = load_gpu(gpu_name, where, field);
  const std::string key = lower(trim(flag));
  for (const ClusterSpec& c : builtin_clusters()) {
    if (c.nodes != 1) continue;
    if (lower(c.name) == key || (c.gpu.name == gpu.name && c.gpus_per_node == count)) return c;
  }
  ClusterSpec c;
  c.name = std::to_string(count) + "x" + gpu.name;
  c.source = "--gpus " + flag;
  c.gpu = gpu;
  c.gpus_per_node = static_cast<int>(count);
  c.nodes = 1;
  // No profile for this machine: assume a host sized like a cloud GPU node (see the header).
  c.host_ram_bytes = 2 * gpu.memory_bytes * static_cast<uint64_t>(count);
  c.host_ram_origin = "assumed: 2 x the node's GPU memory, no built-in cluster has " + std::to_string(count) + " x " +
                      gpu.name + "; set --host-ram";
  c.cpu_cores = 8 * static_cast<int>(count);
  return c;
}

}  // namespace

std::vector<std::string> builtin_gpu_names() {
  std::vector<std::string> names;
  for (const BuiltinGpu& b : builtin_gpus()) names.push_back(b.spec.name);
  return names;
}

std::vector<std::string> builtin_cluster_names() {
  std::vector<std::string> names;
  for (const ClusterSpec& c : builtin_clusters()) names.push_back(c.name);
  return names;
}

}  // namespace zplan
