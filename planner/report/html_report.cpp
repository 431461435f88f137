// Placeholder until the HTML report lands (see html_report.h).
#include "planner/report/html_report.h"

#include "planner/input_error.h"

namespace zplan {

std::string plan_to_html(const Scenario&, const Plan&, const EstimateOptions&) {
  throw InputError("--format", "", "html is not available in this build");
}

}  // namespace zplan
