// Real data and trainer arithmetic without torch: token files (uint16/uint32, sidecar JSON, every
// bad-input case exits 2 naming the file and the problem), the shuffled sampler and its resumable
// position, the learning-rate schedule at known steps, and the JSON-lines progress log.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "planner/input_error.h"
#include "runtime/data/sequence_sampler.h"
#include "runtime/data/token_data.h"
#include "runtime/train/progress_log.h"
#include "runtime/train/schedule.h"

using namespace zplan;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("zplan_data_" + name)).string();
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::vector<uint32_t> counting(uint32_t first, int n) {
  std::vector<uint32_t> v;
  for (int i = 0; i < n; ++i) v.push_back(first + static_cast<uint32_t>(i));
  return v;
}

}  // namespace

TEST_CASE("data: uint32 token files hold ids above 65535, described by a sidecar JSON") {
  const std::string path = temp_path("u32.bin");
  rt::write_token_file(path, counting(70000, 50), 4);
  write_text(path + ".json", R"({"dtype": "uint32", "eos": 70010, "vocab": 80000, "tokenizer": "test"})");
  const rt::TokenFormat format = rt::resolve_token_format(path, "", -1);
  CHECK(format.bytes_per_token == 4);
  CHECK(format.eos_id == 70010);
  CHECK(format.vocab == 80000);
  rt::TokenFile f(path, format);
  CHECK(f.size() == 50);
  CHECK(f.at(0) == 70000);
  CHECK(f.max_token() == 70049);
  CHECK(f.documents() == 2);  // one eos inside the file
  // Read as uint16 (a flag that contradicts the sidecar) is refused, naming both.
  CHECK_THROWS_WITH_AS(rt::resolve_token_format(path, "uint16", -1), doctest::Contains("contradicts"), InputError);
  CHECK_THROWS_WITH_AS(rt::resolve_token_format(path, "", 5), doctest::Contains("--eos"), InputError);
  write_text(path + ".json", R"({"dtype": "uint32", "eos": 1, "vocabulary": 5})");
  CHECK_THROWS_WITH_AS(rt::resolve_token_format(path, "", -1), doctest::Contains("field 'vocabulary'"), InputError);
  write_text(path + ".json", R"({"eos": 1})");
  CHECK_THROWS_WITH_AS(rt::resolve_token_format(path, "", -1), doctest::Contains("field 'dtype'"), InputError);
  // "documents" is information: kept for the report when no eos marks boundaries, checked for type.
  write_text(path + ".json", R"({"dtype": "uint32", "eos": null, "documents": 259})");
  CHECK(rt::resolve_token_format(path, "", -1).declared_documents == 259);
  CHECK(rt::resolve_token_format(path, "", -1).eos_id == -1);
  write_text(path + ".json", R"({"dtype": "uint32", "documents": "many"})");
  CHECK_THROWS_WITH_AS(rt::resolve_token_format(path, "", -1), doctest::Contains("field 'documents'"), InputError);
  write_text(path + ".json", R"({"dtype": "int8"})");
  CHECK_THROWS_WITH_AS(rt::resolve_token_format(path, "", -1), doctest::Contains("uint16 or uint32"), InputError);
  std::remove((path + ".json").c_str());
  CHECK(rt::resolve_token_format(path, "", -1).bytes_per_token == 2);  // no sidecar: uint16
  CHECK(rt::resolve_token_format(path, "uint32", 7).eos_id == 7);
  std::remove(path.c_str());
}

TEST_CASE("data: bad token files name the file and the problem") {
  const std::string path = temp_path("bad.bin");
  write_text(path, "");
  CHECK_THROWS_WITH_AS(rt::TokenFile{path}, doctest::Contains((path + ": is empty").c_str()), InputError);
  write_text(path, "abcdef");  // 6 bytes: 3 uint16 tokens, not whole uint32 ones
  CHECK_NOTHROW(rt::TokenFile(path, rt::TokenFormat{2}));
  CHECK_THROWS_WITH_AS(rt::TokenFile(path, rt::TokenFormat{4}), doctest::Contains("6 bytes, not a multiple of 4"), InputError);
  std::vector<uint16_t> ids(40, 7);
  ids[23] = 300;
  ids[31] = 400;
  rt::write_token_file(path, ids);
  rt::TokenFile f(path);
  CHECK_NOTHROW(f.check_ids_below(401, "the model's vocab"));
  // The first offending position, its byte offset and its id.
  CHECK_THROWS_WITH_AS(f.check_ids_below(256, "the model's vocab"),
                       doctest::Contains("token 23 (byte offset 46) is id 300, not below the model's vocab 256"), InputError);
  CHECK_THROWS_WITH_AS(f.windows(64), doctest::Contains("holds 40 tokens; a sequence of 64"), InputError);
  std::remove(path.c_str());
}

TEST_CASE("data: an epoch reads every window once, shuffled by the seed, and resumes from its position") {
  const std::string path = temp_path("epochs.bin");
  rt::write_token_file(path, counting(0, 81), 2);  // 10 windows of 8 + 1 tokens
  rt::TokenFile f(path);
  rt::SequenceSampler a(f, 8, 5);
  REQUIRE(a.windows_per_epoch() == 10);
  std::vector<int64_t> ids, targets;
  std::set<int64_t> starts;
  std::vector<int64_t> first_epoch;
  for (int i = 0; i < 5; ++i) {  // 5 batches of 2 = one epoch
    a.next_batch(2, &ids, &targets);
    REQUIRE(ids.size() == 16);
    for (int row = 0; row < 2; ++row) {
      CHECK(ids[row * 8] % 8 == 0);  // windows start at multiples of T
      starts.insert(ids[row * 8]);
      first_epoch.push_back(ids[row * 8]);
      for (int t = 0; t < 8; ++t) CHECK(targets[row * 8 + t] == ids[row * 8 + t] + 1);
    }
  }
  CHECK(starts.size() == 10);  // every window exactly once
  CHECK(a.position().epoch == 0);
  CHECK(a.position().index == 10);
  bool in_order = true;
  for (size_t i = 0; i < first_epoch.size(); ++i) in_order = in_order && first_epoch[i] == static_cast<int64_t>(8 * i);
  CHECK_FALSE(in_order);  // shuffled
  rt::SequenceSampler other_seed(f, 8, 6);
  other_seed.next_batch(10, &ids, &targets);
  std::vector<int64_t> other;
  for (int row = 0; row < 10; ++row) other.push_back(ids[row * 8]);
  CHECK(other != first_epoch);

  // Epoch 1 continues with a new order; a sampler restored at the saved position reads the same.
  a.next_batch(3, &ids, &targets);
  const rt::DataPosition saved = a.position();
  CHECK(saved.epoch == 1);
  CHECK(saved.index == 3);
  std::vector<int64_t> expected, got;
  a.next_batch(4, &expected, &targets);
  rt::SequenceSampler b(f, 8, 5);
  b.set_position(saved, "ckpt");
  b.next_batch(4, &got, &targets);
  CHECK(got == expected);
  CHECK_THROWS_WITH_AS(b.set_position(rt::DataPosition{0, 11}, "ckpt"), doctest::Contains("10 sequences per epoch"), InputError);
  std::remove(path.c_str());
}

TEST_CASE("schedule: linear warm-up, cosine to the floor at the last step") {
  rt::LrSchedule s{1e-3, 10, 1e-4, 111};  // decay over steps 10..110 (100 intervals)
  CHECK(rt::learning_rate_at(s, 0) == doctest::Approx(1e-4));   // (0 + 1) / 10 of the peak
  CHECK(rt::learning_rate_at(s, 4) == doctest::Approx(5e-4));
  CHECK(rt::learning_rate_at(s, 9) == doctest::Approx(1e-3));
  CHECK(rt::learning_rate_at(s, 10) == doctest::Approx(1e-3));  // cosine starts at the peak
  CHECK(rt::learning_rate_at(s, 60) == doctest::Approx(5.5e-4));  // halfway: (peak + floor) / 2
  CHECK(rt::learning_rate_at(s, 35) == doctest::Approx(1e-4 + 9e-4 * 0.5 * (1 + std::cos(M_PI / 4))));
  CHECK(rt::learning_rate_at(s, 110) == doctest::Approx(1e-4));  // the last step runs at the floor
  CHECK(rt::learning_rate_at(s, 500) == doctest::Approx(1e-4));
  for (int step = 11; step <= 110; ++step) CHECK(rt::learning_rate_at(s, step) < rt::learning_rate_at(s, step - 1));
  const rt::LrSchedule constant{2e-4, 0, -1.0, 50};
  CHECK(rt::learning_rate_at(constant, 0) == 2e-4);
  CHECK(rt::learning_rate_at(constant, 49) == 2e-4);
  CHECK_THROWS_WITH_AS(rt::check_schedule({1e-4, 0, 1e-3, 10}), doctest::Contains("--min-lr"), InputError);
  CHECK_THROWS_WITH_AS(rt::check_schedule({0.0, 0, -1.0, 10}), doctest::Contains("--lr"), InputError);
  CHECK_THROWS_WITH_AS(rt::check_schedule({1e-4, -1, -1.0, 10}), doctest::Contains("--warmup-steps"), InputError);
}

TEST_CASE("progress log: one JSON object per step with every field; time left from the mean step") {
  const std::string path = temp_path("log.jsonl");
  std::remove(path.c_str());
  {
    rt::ProgressLog log(path, /*print_lines=*/false);
    for (int step = 1; step <= 4; ++step) {
      rt::StepReport r;
      r.step = step;
      r.total_steps = 10;
      r.loss = 5.0 - step;
      r.lr = 1e-4 * step;
      r.tokens = 1000;
      r.step_seconds = step == 1 ? 9.0 : 2.0;  // the first step warms up: not in the estimate
      if (step == 2) r.grad_norm = 0.5;
      if (step == 4) r.eval_loss = 1.25;
      log.record(r);
    }
  }
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const nlohmann::json j = nlohmann::json::parse(line);
    CHECK(j.at("step") == n);
    CHECK(j.at("steps") == 10);
    CHECK(j.at("loss").get<double>() == doctest::Approx(5.0 - n));
    CHECK(j.at("lr").get<double>() == doctest::Approx(1e-4 * n));
    CHECK(j.at("tokens_per_second").get<double>() == doctest::Approx(n == 1 ? 1000.0 / 9 : 500.0));
    CHECK(j.contains("peak_allocated_bytes"));
    CHECK(j.at("host_peak_rss_bytes").get<uint64_t>() > 0);
    CHECK(j.at("grad_norm").is_null() == (n != 2));
    CHECK(j.contains("eval_loss") == (n == 4));
    if (n >= 2) CHECK(j.at("seconds_left").get<double>() == doctest::Approx(2.0 * (10 - n)));
  }
  CHECK(n == 4);
  CHECK(rt::format_duration(3725) == "1h02m");
  CHECK(rt::format_duration(185) == "3m05s");
  CHECK(rt::format_duration(12.4) == "12s");
  CHECK_THROWS_WITH_AS(rt::ProgressLog("/nonexistent-dir/x.jsonl", false), doctest::Contains("--log-jsonl"), InputError);
  std::remove(path.c_str());
}
