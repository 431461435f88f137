// Hardware loading tests: GPU names and aliases, "--gpus NxGPU" flags, built-in clusters and the
// byte-size parser's edge cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "planner/input_error.h"
#include "planner/io/hardware_loader.h"

using namespace zplan;

namespace {
constexpr uint64_t GiB = uint64_t{1} << 30;
}

TEST_CASE("built-in GPUs and clusters are present") {
  const std::vector<std::string> gpus = builtin_gpu_names();
  for (const char* n : {"h100-80gb", "h200-141gb", "a100-40gb", "a100-80gb", "v100-32gb", "rtx3080-20gb",
                        "rtx3090-24gb", "rtx4090-24gb", "l40s-48gb"}) {
    CAPTURE(n);
    CHECK(std::find(gpus.begin(), gpus.end(), n) != gpus.end());
  }
  const std::vector<std::string> clusters = builtin_cluster_names();
  for (const char* n : {"3x3080-20g", "4xv100", "8xh100", "8xh200"}) {
    CAPTURE(n);
    CHECK(std::find(clusters.begin(), clusters.end(), n) != clusters.end());
  }
}

TEST_CASE("each GPU profile's memory matches the size in its file name") {
  for (const std::string& name : builtin_gpu_names()) {
    CAPTURE(name);
    const GpuSpec g = load_gpu(name);
    CHECK(g.source == "hardware/gpus/" + name + ".yaml");
    const size_t dash = name.rfind('-');
    const double named_gb = std::atof(name.substr(dash + 1).c_str());  // "80gb" -> 80
    CHECK(static_cast<double>(g.memory_bytes) / 1e9 > named_gb * 0.95);
    CHECK(static_cast<double>(g.memory_bytes) / 1e9 < named_gb * 1.10);
    CHECK(g.supports_bf16 == (g.bf16_tflops > 0));
    CHECK(g.fp16_tflops > g.fp32_tflops);
    CHECK(g.memory_bw_gb_per_s > 0);
    CHECK(g.intra_node_bw_gb_per_s > 0);
    CHECK(g.pcie_bw_gb_per_s > 0);
  }
}

TEST_CASE("GPU names and aliases") {
  const GpuSpec h100 = load_gpu("H100");
  CHECK(h100.name == "h100-80gb");
  CHECK(h100.memory_bytes == 85017493504ull);
  CHECK(load_gpu("h100-SXM").name == "h100-80gb");
  CHECK(load_gpu("V100").name == "v100-32gb");
  CHECK_FALSE(load_gpu("v100").supports_bf16);
  CHECK(load_gpu("3080-20g").name == "rtx3080-20gb");
  CHECK(load_gpu("A100").name == "a100-80gb");
  CHECK(load_gpu("h200").memory_bytes == 150109880320ull);
  CHECK_THROWS_WITH_AS(load_gpu("H1000"), doctest::Contains("unknown GPU \"H1000\"; did you mean h100-80gb"),
                       InputError);
  CHECK_THROWS_WITH_AS(load_gpu("3080"), doctest::Contains("rtx3080-20gb"), InputError);
}

TEST_CASE("--gpus flags use built-in clusters when they exist") {
  const ClusterSpec h = cluster_from_gpus_flag("8xH100");
  CHECK(h.name == "8xh100");
  CHECK(h.world_size() == 8);
  CHECK(h.gpu.name == "h100-80gb");
  CHECK(h.host_ram_bytes == 2048 * GiB);
  CHECK(h.cpu_cores == 112);
  const ClusterSpec v = cluster_from_gpus_flag("4xV100");
  CHECK(v.name == "4xv100");
  CHECK(v.gpus_per_node == 4);
  CHECK(v.host_ram_bytes == 64 * GiB);
  const ClusterSpec r = cluster_from_gpus_flag("3x3080-20g");
  CHECK(r.gpu.name == "rtx3080-20gb");
  CHECK(r.world_size() == 3);
  CHECK(r.host_ram_bytes == 12 * GiB);
  CHECK(cluster_from_gpus_flag("8xh100-80gb").name == "8xh100");  // same GPU profile and count
  CHECK(cluster_from_gpus_flag(" 8XH200 ").name == "8xh200");
  CHECK(cluster_from_gpus_flag("8*h100").name == "8xh100");
}

TEST_CASE("--gpus flags without a built-in cluster get a derived host") {
  const ClusterSpec c = cluster_from_gpus_flag("1xh100-80gb");
  CHECK(c.name == "1xh100-80gb");
  CHECK(c.world_size() == 1);
  CHECK(c.nodes == 1);
  CHECK(c.host_ram_bytes == 2 * 85017493504ull);  // 2 x total GPU memory
  CHECK(c.cpu_cores == 8);                        // 8 per GPU
  const ClusterSpec a = cluster_from_gpus_flag("2xA100-40g");
  CHECK(a.gpu.name == "a100-40gb");
  CHECK(a.host_ram_bytes == 4 * a.gpu.memory_bytes);
  CHECK(a.cpu_cores == 16);
}

TEST_CASE("malformed --gpus flags") {
  CHECK_THROWS_WITH_AS(cluster_from_gpus_flag("H100"), doctest::Contains("--gpus: expected NxGPU"), InputError);
  CHECK_THROWS_WITH_AS(cluster_from_gpus_flag("0xH100"), doctest::Contains("between 1 and"), InputError);
  CHECK_THROWS_AS(cluster_from_gpus_flag("x8"), InputError);
  CHECK_THROWS_AS(cluster_from_gpus_flag("8x"), InputError);
  CHECK_THROWS_AS(cluster_from_gpus_flag(""), InputError);
  CHECK_THROWS_AS(cluster_from_gpus_flag("-8xH100"), InputError);
  CHECK_THROWS_WITH_AS(cluster_from_gpus_flag("8xH1OO"), doctest::Contains("did you mean h100-80gb"), InputError);
}

TEST_CASE("load_cluster: names, NxGPU, files and errors") {
  CHECK(load_cluster("8xh100").gpu.name == "h100-80gb");
  CHECK(load_cluster("4xV100").world_size() == 4);
  CHECK(load_cluster("2xh200").host_ram_bytes == 4 * 150109880320ull);
  CHECK_THROWS_WITH_AS(load_cluster("dgx"), doctest::Contains("unknown cluster \"dgx\""), InputError);

  const auto dir = std::filesystem::temp_directory_path() / "zplan_hardware_loader_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "two-nodes.yaml").string();
  std::ofstream(path) << "gpu: H100\ngpus_per_node: 8\nnodes: 2\nhost_ram_bytes: 1TiB\ncpu_cores: 96\n";
  const ClusterSpec c = load_cluster(path);
  CHECK(c.name == "two-nodes");
  CHECK(c.world_size() == 16);
  CHECK(c.host_ram_bytes == 1024 * GiB);
  CHECK(c.inter_node_bw_gb_per_s == 25);
  CHECK(c.host_memory_bw_gb_per_s == 0);          // unknown: the step-time model assumes a per-GPU share
  CHECK(load_cluster("8xh200").host_memory_bw_gb_per_s == doctest::Approx(614.4));
  CHECK(parse_cluster_yaml("gpu: H100\ngpus_per_node: 8\nhost_ram_bytes: 1\ncpu_cores: 1\nhost_memory_bw_gb_per_s: 300\n", "c.yaml")
            .host_memory_bw_gb_per_s == 300);
  CHECK_THROWS_WITH_AS(parse_cluster_yaml("gpu: H100\ngpus_per_node: 8\nhost_ram_bytes: 1\ncpu_cores: 1\nhost_memory_bw_gb_per_s: -1\n", "c.yaml"),
                       doctest::Contains("c.yaml: field 'host_memory_bw_gb_per_s'"), InputError);

  CHECK_THROWS_WITH_AS(parse_cluster_yaml("gpu: H1000\ngpus_per_node: 8\nhost_ram_bytes: 1\ncpu_cores: 1\n", "c.yaml"),
                       doctest::Contains("c.yaml: field 'gpu': unknown GPU"), InputError);
  CHECK_THROWS_WITH_AS(parse_cluster_yaml("gpu: H100\ngpus_per_node: 0\nhost_ram_bytes: 1\ncpu_cores: 1\n", "c.yaml"),
                       doctest::Contains("c.yaml: field 'gpus_per_node'"), InputError);
  CHECK_THROWS_WITH_AS(parse_cluster_yaml("gpu: H100\ngpus_per_node: 8\nhost_ram_bytes: -5\ncpu_cores: 1\n", "c.yaml"),
                       doctest::Contains("c.yaml: field 'host_ram_bytes'"), InputError);
  CHECK_THROWS_WITH_AS(parse_cluster_yaml("gpu: H100\ngpus_per_node: 8\nhost_ram: 1GiB\ncpu_cores: 1\n", "c.yaml"),
                       doctest::Contains("field 'host_ram': unknown key; did you mean host_ram_bytes"), InputError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("GPU YAML validation") {
  const std::string ok =
      "memory_bytes: 16GiB\nmemory_bw_gb_per_s: 900\nbf16_tflops: 0\nfp16_tflops: 100\nfp32_tflops: 10\n"
      "supports_bf16: false\nintra_node_link: pcie3\nintra_node_bw_gb_per_s: 16\npcie_bw_gb_per_s: 16\n";
  const GpuSpec g = parse_gpu_yaml(ok, "g/t4-16gb.yaml");
  CHECK(g.name == "t4-16gb");
  CHECK(g.memory_bytes == 16 * GiB);
  CHECK_THROWS_WITH_AS(parse_gpu_yaml(ok + "bogus: 1\n", "g.yaml"), doctest::Contains("field 'bogus': unknown key"),
                       InputError);
  CHECK_THROWS_WITH_AS(parse_gpu_yaml("memory_bytes: 16GiB\n", "g.yaml"),
                       doctest::Contains("g.yaml: field 'memory_bw_gb_per_s': missing"), InputError);
}

TEST_CASE("parse_bytes accepts sizes with units") {
  CHECK(parse_bytes("12GiB", "--host-ram") == 12 * GiB);
  CHECK(parse_bytes("12GB", "--host-ram") == 12'000'000'000ull);
  CHECK(parse_bytes("512MiB", "--host-ram") == 512ull << 20);
  CHECK(parse_bytes("1.5TiB", "--host-ram") == 1536 * GiB);
  CHECK(parse_bytes("12g", "--host-ram") == 12 * GiB);
  CHECK(parse_bytes("12G", "--host-ram") == 12 * GiB);
  CHECK(parse_bytes("12gib", "--host-ram") == 12 * GiB);
  CHECK(parse_bytes("12 GiB", "--host-ram") == 12 * GiB);
  CHECK(parse_bytes(" 64k ", "--host-ram") == 65536);
  CHECK(parse_bytes("4096", "--host-ram") == 4096);
  CHECK(parse_bytes("4096B", "--host-ram") == 4096);
  CHECK(parse_bytes("85520809984", "--host-ram") == 85520809984ull);
  CHECK(parse_bytes("0.5GiB", "--host-ram") == GiB / 2);
  CHECK(parse_bytes("2TB", "--host-ram") == 2'000'000'000'000ull);
}

TEST_CASE("parse_bytes rejects negatives, zero and junk") {
  for (const char* bad : {"-1", "-12GiB", "0", "0GiB", "0.0", "abc", "12XB", "1.5", "", "   ", "GiB", "1.2.3GiB",
                          "12GiB extra", "99999999999TiB", "1e9", "0x10", ".", "12 G i B"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_bytes(bad, "--host-ram"), doctest::Contains("--host-ram: expected a positive size"),
                         InputError);
  }
  CHECK_THROWS_WITH_AS(parse_bytes("lots", "s.yaml", "host_ram"), doctest::Contains("s.yaml: field 'host_ram'"),
                       InputError);
}
