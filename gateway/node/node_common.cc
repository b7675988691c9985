#include "gateway/node/node_common.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "crypto/keys.h"

namespace cg::node {

Result<std::string> read_first_line(const std::string& path) {
  std::ifstream in(path);
  if (!in) return io_error(path + ": cannot read");
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

Result<std::optional<crypto::Secret>> passphrase(const config::Keys& keys) {
  if (keys.passphrase_file.empty()) return std::optional<crypto::Secret>();
  CG_ASSIGN_OR_RETURN(auto p, crypto::read_passphrase_file(keys.passphrase_file));
  return std::optional<crypto::Secret>(std::move(p));
}

link::Settings link_settings(const config::LinkCommon& l) {
  link::Settings s;
  s.link_id = l.link_id;
  s.data_fragments = static_cast<std::uint8_t>(l.data_fragments);
  s.parity_fragments = static_cast<std::uint8_t>(l.parity_fragments);
  s.datagram_bytes = static_cast<std::uint16_t>(l.datagram_bytes);
  return s;
}

void WireMark::submitted(std::uint64_t through, std::int64_t now_ns) {
  if (through <= last_submitted_) return;
  last_submitted_ = through;
  if (recent_.size() == recent_max) recent_.pop_back();  // the newest entry moves up instead
  recent_.emplace_back(now_ns, through);
}

std::uint64_t WireMark::on_wire(bool sender_idle, std::int64_t now_ns) {
  if (sender_idle) {
    mark_ = std::max(mark_, last_submitted_);
    recent_.clear();
    return mark_;
  }
  while (!recent_.empty() && now_ns - recent_.front().first >= drain_bound_ns_) {
    mark_ = std::max(mark_, recent_.front().second);
    recent_.pop_front();
  }
  return mark_;
}

std::int64_t drain_bound_ns(const link::SenderOptions& o) {
  const double seconds = 8.0 * static_cast<double>(o.staging_bytes_max) /
                         static_cast<double>(std::max<std::uint64_t>(o.pace_bytes_per_s, 1));
  return static_cast<std::int64_t>(seconds * 1e9) + ns_per_s;
}

void NodeMetrics::counter(const std::string& name, const std::string& help, metrics::Labels labels,
                          const std::atomic<std::uint64_t>& value) {
  registry_.counter(name, help, std::move(labels),
                    [&value] { return static_cast<double>(value.load()); });
}

void NodeMetrics::gauge(const std::string& name, const std::string& help, metrics::Labels labels,
                        const std::atomic<std::uint64_t>& value) {
  registry_.gauge(name, help, std::move(labels),
                  [&value] { return static_cast<double>(value.load()); });
}

Status NodeMetrics::start(const config::NodeConfig& config) {
  if (config.metrics.listen.empty()) return {};
  if (auto s = server_.start(config.metrics.listen); !s.ok())
    return Status(s.code(), config.source_file + ": [metrics] listen: " + s.reason());
  return {};
}

void LinkInbox::on_envelope(const link::Delivered& d) {
  envelopes.emplace_back(d.bytes.begin(), d.bytes.end());
}
void LinkInbox::on_loss(const link::Loss& l) { lost->fetch_add(l.count); }
void LinkInbox::on_control(std::uint64_t, std::span<const std::uint8_t> p) {
  controls.emplace_back(p.begin(), p.end());
}
void LinkInbox::on_alert(const link::Alert& a) {
  std::fprintf(stderr, "[%s] link alert: %s\n", node.c_str(), a.text.c_str());
}

}  // namespace cg::node
