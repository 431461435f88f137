// The memory categories: one row for each kind of allocation the step timeline charges, with every
// name a report gives it. The timeline (timeline.h), MemoryBreakdown, the JSON encoding, the text,
// Markdown and HTML reports and the runtime's comparison all read this one table, so adding a
// category is one enum value and one row (the static_asserts below fail until both exist).
#pragma once
#include <cstddef>
#include <cstdint>
#include <iterator>

#include "planner/memory/memory_breakdown.h"  // MemoryBreakdown: one uint64_t field per category

namespace zplan {

// What an allocation is, for the breakdown at the peak (one MemoryBreakdown field each).
enum class Category {
  weights, grads, master_weights, optimizer_states, activations, logits, working, comm_buffers,
  optimizer_temp, count
};
constexpr size_t kCategoryCount = static_cast<size_t>(Category::count);

struct CategoryInfo {
  Category category;
  const char* name;                   // to_string(Category): timeline and test names
  const char* json_key;               // key under memory.gpu.breakdown (estimates and run records)
  const char* label;                  // row of the text, Markdown and HTML reports
  const char* css_key;                // HTML: classes seg-<css_key> and swatch-<css_key>
  const char* color;                  // HTML: bar segment and legend swatch
  uint64_t MemoryBreakdown::*member;  // the field that holds its bytes at the peak
};

// In enum order, which is also the order reports stack and list them (model states first).
inline constexpr CategoryInfo kCategories[] = {
    {Category::weights, "weights", "weights_bytes", "weights", "weights", "#4e79a7", &MemoryBreakdown::weights_bytes},
    {Category::grads, "grads", "grads_bytes", "gradients", "grads", "#f28e2b", &MemoryBreakdown::grads_bytes},
    {Category::master_weights, "master_weights", "master_weights_bytes", "fp32 master weights", "master", "#e15759",
     &MemoryBreakdown::master_weights_bytes},
    {Category::optimizer_states, "optimizer_states", "optimizer_states_bytes", "optimizer states", "optimizer", "#76b7b2",
     &MemoryBreakdown::optimizer_states_bytes},
    {Category::activations, "activations", "activations_bytes", "activations", "activations", "#59a14f",
     &MemoryBreakdown::activations_bytes},
    {Category::logits, "logits", "logits_bytes", "logits and loss", "logits", "#edc948", &MemoryBreakdown::logits_bytes},
    {Category::working, "working", "working_bytes", "working set", "working", "#b07aa1", &MemoryBreakdown::working_bytes},
    {Category::comm_buffers, "comm_buffers", "comm_buffers_bytes", "communication buffers", "comm", "#ff9da7",
     &MemoryBreakdown::comm_buffers_bytes},
    {Category::optimizer_temp, "optimizer_temp", "optimizer_temp_bytes", "optimizer temporaries", "optimizer-temp",
     "#9c755f", &MemoryBreakdown::optimizer_temp_bytes},
};
static_assert(std::size(kCategories) == kCategoryCount, "kCategories needs one row for each Category");

constexpr bool categories_in_enum_order() {
  for (size_t i = 0; i < kCategoryCount; ++i)
    if (kCategories[i].category != static_cast<Category>(i)) return false;
  return true;
}
static_assert(categories_in_enum_order(), "kCategories rows must follow the Category enum");

constexpr const CategoryInfo& category_info(Category c) { return kCategories[static_cast<size_t>(c)]; }
inline const char* to_string(Category c) { return c == Category::count ? "?" : category_info(c).name; }

}  // namespace zplan
