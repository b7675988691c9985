// gateway/node: one way for the three roles to register what they count. A role lists its
// metrics as a table of rows {kind, name, help, label, value} and registers the table in one
// call; the rows read their value at scrape time. Names, labels and help texts are the
// operators' interface (docs/OPERATIONS.md): a row changes only with that page.
// Building rows is pure; register_rows() as NodeMetrics (from the controlling thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "crypto/verify_cache.h"
#include "gateway/node/node_common.h"

namespace cg::node {

struct MetricRow {
  enum class Kind { counter, gauge };
  Kind kind = Kind::counter;
  std::string name, help;
  NodeMetrics::Label label;                           // empty: the node label alone
  const std::atomic<std::uint64_t>* value = nullptr;  // must outlive the NodeMetrics
};

// A counter (or gauge) row read from `value`, labelled with the node and `label` if given.
inline MetricRow counter_row(std::string name, std::string help,
                             const std::atomic<std::uint64_t>& value,
                             NodeMetrics::Label label = {}) {
  return {MetricRow::Kind::counter, std::move(name), std::move(help), std::move(label), &value};
}
inline MetricRow gauge_row(std::string name, std::string help,
                           const std::atomic<std::uint64_t>& value) {
  return {MetricRow::Kind::gauge, std::move(name), std::move(help), {}, &value};
}

// Registers every row, in order.
void register_rows(NodeMetrics& metrics, std::span<const MetricRow> rows);

// cellgate_signature_checks_total{how=computed|remembered}: the relay's and the receiver's.
std::vector<MetricRow> signature_rows(const crypto::VerifiedSignatures& verified);

}  // namespace cg::node
