#include "gateway/node/metric_table.h"

namespace cg::node {

void register_rows(NodeMetrics& metrics, std::span<const MetricRow> rows) {
  for (const auto& r : rows) {
    if (r.kind == MetricRow::Kind::gauge)
      metrics.gauge(r.name, r.help, *r.value);
    else
      metrics.counter(r.name, r.help, r.label, *r.value);
  }
}

std::vector<MetricRow> signature_rows(const crypto::VerifiedSignatures& verified) {
  const std::string help =
      "Batch and tree head signature checks: computed by the suite, or remembered (the same "
      "signature verified before).";
  return {
      counter_row("cellgate_signature_checks_total", help, verified.misses(), {"how", "computed"}),
      counter_row("cellgate_signature_checks_total", help, verified.hits(), {"how", "remembered"})};
}

}  // namespace cg::node
