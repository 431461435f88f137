// sequence_sampler.cpp: epoch-wise shuffled windows (see sequence_sampler.h).
#include "runtime/data/sequence_sampler.h"

#include <random>

#include "planner/input_error.h"

namespace zplan::rt {

SequenceSampler::SequenceSampler(const TokenFile& file, int64_t tokens, uint64_t seed)
    : file_(file), tokens_(tokens), seed_(seed) {
  order_.resize(static_cast<size_t>(file.windows(tokens)));
  shuffle_for_epoch();
}

void SequenceSampler::shuffle_for_epoch() {
  for (size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<int64_t>(i);
  // Fisher-Yates with mt19937_64 and a plain modulo: the same order from every standard library
  // (std::shuffle and uniform_int_distribution are implementation-defined), so a checkpoint
  // resumes identically wherever it is read. The modulo bias (< n / 2^64) is immaterial.
  std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(position_.epoch) + 1);
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng() % i]);
}

void SequenceSampler::next_batch(int64_t batch, std::vector<int64_t>* ids,
                                 std::vector<int64_t>* targets) {
  ids->clear();
  targets->clear();
  for (int64_t b = 0; b < batch; ++b) {
    if (position_.index >= windows_per_epoch()) {
      ++position_.epoch;
      position_.index = 0;
      shuffle_for_epoch();
    }
    file_.read_window(order_[static_cast<size_t>(position_.index++)], tokens_, ids, targets);
  }
}

void SequenceSampler::set_position(DataPosition position, const std::string& source) {
  if (position.epoch < 0 || position.index < 0 || position.index > windows_per_epoch())
    throw InputError(source, "data", "position (epoch " + std::to_string(position.epoch) + ", index " +
                                         std::to_string(position.index) + ") does not fit " +
                                         file_.path() + ", which has " +
                                         std::to_string(windows_per_epoch()) + " sequences per epoch at this --seq");
  position_ = position;
  shuffle_for_epoch();
}

}  // namespace zplan::rt
