// sequence_sampler.h: which training sequences each step reads. The token file is cut into
// non-overlapping windows of T + 1 tokens starting at multiples of T (TokenFile::windows); an
// epoch visits every window once in an order shuffled from (seed, epoch). The position is
// (epoch, index of the next window in that epoch's order): saving it in a checkpoint and
// restoring it makes a resumed run read exactly the sequences the uninterrupted run would have.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/data/token_data.h"

namespace zplan::rt {

struct DataPosition {
  int64_t epoch = 0;
  int64_t index = 0;  // windows of this epoch already read
};

class SequenceSampler {
 public:
  // Throws InputError when the file is shorter than one sequence (tokens + 1).
  SequenceSampler(const TokenFile& file, int64_t tokens, uint64_t seed);
  int64_t windows_per_epoch() const { return static_cast<int64_t>(order_.size()); }
  // batch * tokens ids and targets, row-major [B, T]; advances the position (into the next epoch
  // when this one runs out).
  void next_batch(int64_t batch, std::vector<int64_t>* ids, std::vector<int64_t>* targets);
  DataPosition position() const { return position_; }
  // Throws InputError (naming `source`) when the position does not fit this file and --seq.
  void set_position(DataPosition position, const std::string& source);

 private:
  void shuffle_for_epoch();

  const TokenFile& file_;
  int64_t tokens_;
  uint64_t seed_;
  std::vector<int64_t> order_;
  DataPosition position_;
};

}  // namespace zplan::rt
