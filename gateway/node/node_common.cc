#include "gateway/node/node_common.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "crypto/keys.h"
#include "gateway/common/limits.h"
#include "gateway/ingest/ingest.h"
#include "gateway/node/trust_pin.h"
#include "gateway/policy/policy.h"
#include "gateway/store/store.h"

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

namespace {
Status curve_secret(const std::string& key, const std::string& path) {
  auto line = read_first_line(path);
  if (!line.ok()) return line.status().with_context(key);
  auto pub = ingest::curve_public(*line);
  if (!pub.ok()) return pub.status().with_context(key + ": " + path);
  return {};
}
}  // namespace

Status prepare(const config::NodeConfig& config, const Clock& clock) {
  CG_RETURN_IF_ERROR(config::check_files(config));
  const std::string& f = config.source_file;
  if (config.keys) {
    const auto& k = *config.keys;
    const crypto::Suite* suite = nullptr;
    if (k.signing_key.empty()) {  // the filter of a separate guard: the trust root's suite
      auto s = trust_root_file_suite(k.trust_root);
      if (!s.ok()) return s.status().with_context(f + ": keys.trust_root");
      suite = *s;
    } else {
      CG_ASSIGN_OR_RETURN(auto pass, passphrase(k));
      auto key = crypto::load_signing_key_file(k.signing_key, pass ? &*pass : nullptr,
                                               /*allow_unencrypted=*/!pass);
      if (!key.ok()) return key.status().with_context(f + ": keys.signing_key");
      CG_ASSIGN_OR_RETURN(suite, crypto::suite((*key)->suite()));
    }
    const approval::SuiteVerifier verifier(*suite);
    auto root_bytes = crypto::read_file(k.trust_root, limits::trust_root_bytes_max);
    if (!root_bytes.ok()) return root_bytes.status().with_context(f + ": keys.trust_root");
    // Judged as the node will judge it at start: against the root pinned in the store, when the
    // store exists (trust_pin.h), else as the first root.
    std::error_code ec;
    if (std::filesystem::exists(config.store + "/data.mdb", ec)) {
      auto env = store::Env::open(
          {.path = config.store, .map_bytes = config.store_bytes_max, .read_only = true});
      if (!env.ok()) return env.status().with_context(f + ": store");
      auto judged = judge_trust_root(**env, *root_bytes, verifier, clock.now_ns());
      if (!judged.ok()) return judged.status().with_context(f + ": keys.trust_root");
    } else {
      auto root = approval::TrustRoot::bootstrap(*root_bytes, verifier, clock.now_ns());
      if (!root.ok()) return root.status().with_context(f + ": keys.trust_root");
    }
  }
  for (const auto& l : config.links_out) {
    auto key = crypto::read_link_key_file(l.key_file);
    if (!key.ok()) return key.status().with_context(f + ": link_out " + l.name + ": key_file");
    Status a = link::check_address(l.peer);
    if (!a.ok()) return a.with_context(f + ": link_out " + l.name + ": peer");
  }
  for (const auto& l : config.links_in) {
    auto key = crypto::read_link_key_file(l.key_file);
    if (!key.ok()) return key.status().with_context(f + ": link_in " + l.name + ": key_file");
    Status a = link::check_address(l.listen);
    if (!a.ok()) return a.with_context(f + ": link_in " + l.name + ": listen");
  }
  if (config.ingest) {
    CG_RETURN_IF_ERROR(
        curve_secret(f + ": ingest.curve_secret_file", config.ingest->curve_secret_file));
  }
  if (config.deliver) {
    CG_RETURN_IF_ERROR(
        curve_secret(f + ": deliver.curve_secret_file", config.deliver->curve_secret_file));
  }
  if (config.guard) {
    CG_RETURN_IF_ERROR(
        curve_secret(f + ": guard.curve_secret_file", config.guard->curve_secret_file));
  }
  if (config.guard_service) {
    CG_RETURN_IF_ERROR(
        curve_secret(f + ": guard.curve_secret_file", config.guard_service->curve_secret_file));
  }
  if (config.recovery && !config.recovery->curve_secret_file.empty()) {
    CG_RETURN_IF_ERROR(
        curve_secret(f + ": recovery.curve_secret_file", config.recovery->curve_secret_file));
  }
  return {};
}

link::Settings link_settings(const config::LinkCommon& l) {
  link::Settings s;
  s.link_id = l.link_id;
  s.data_fragments = static_cast<std::uint8_t>(l.data_fragments);
  s.parity_fragments = static_cast<std::uint8_t>(l.parity_fragments);
  s.datagram_bytes = static_cast<std::uint16_t>(l.datagram_bytes);
  return s;
}

void WireMark::submitted(std::uint64_t link_seq, std::uint64_t seq) {
  if (seq <= last_submitted_) return;  // not a first send
  last_submitted_ = seq;
  in_flight_.emplace_back(link_seq, seq);
}

std::uint64_t WireMark::on_wire(std::uint64_t unsent_floor) {
  while (!in_flight_.empty() && in_flight_.front().first < unsent_floor) {
    mark_ = std::max(mark_, in_flight_.front().second);
    in_flight_.pop_front();
  }
  return mark_;
}

void ErrorLog::report(const std::string& what, std::int64_t now) {
  if (what == last_ && now - last_ns_ < 10 * ns_per_s) {
    ++repeats_;
    return;
  }
  if (repeats_ > 0) {
    std::fprintf(stderr, "[%s] (the last error repeated %llu more times)\n", node_.c_str(),
                 static_cast<unsigned long long>(repeats_));
  }
  std::fprintf(stderr, "[%s] %s\n", node_.c_str(), what.c_str());
  last_ = what;
  last_ns_ = now;
  repeats_ = 0;
}

approval::CompilePolicy policy_compiler() {
  return [](std::string_view text) -> Result<approval::CompiledPolicy> {
    CG_ASSIGN_OR_RETURN(auto p, policy::Policy::parse(text, "rules bundle"));
    return approval::CompiledPolicy(std::shared_ptr<const policy::Policy>(std::move(p)));
  };
}

void register_link_metrics(metrics::Registry& registry, const std::string& link_name,
                           const link::SenderCounters* sender,
                           const link::ReceiverCounters* receiver) {
  for (const link::CounterInfo& c : link::counter_list(sender, receiver)) {
    const std::atomic<std::uint64_t>* value = c.value;
    registry.counter("cellgate_link_" + std::string(c.name) + "_total", std::string(c.help),
                     {{"link", link_name}}, [value] { return static_cast<double>(value->load()); });
  }
}

void register_link_queue_metrics(metrics::Registry& registry, const std::string& link_name,
                                 link::UdpSender& sender) {
  registry.gauge("cellgate_link_queued_envelopes",
                 "Envelopes submitted to the link sender and not yet cut into blocks",
                 {{"link", link_name}},
                 [&sender] { return static_cast<double>(sender.queued().envelopes); });
  registry.gauge("cellgate_link_queued_bytes",
                 "Envelope bytes submitted to the link sender and not yet cut into blocks",
                 {{"link", link_name}},
                 [&sender] { return static_cast<double>(sender.queued().bytes); });
}

metrics::Labels NodeMetrics::labels(const Label& extra) const {
  auto l = node_;
  if (!extra.first.empty()) l.push_back(extra);
  return l;
}

void NodeMetrics::counter(const std::string& name, const std::string& help, const Label& label,
                          const std::atomic<std::uint64_t>& value) {
  registry_.counter(name, help, labels(label),
                    [&value] { return static_cast<double>(value.load()); });
}

void NodeMetrics::gauge(const std::string& name, const std::string& help,
                        const std::atomic<std::uint64_t>& value) {
  registry_.gauge(name, help, labels({}), [&value] { return static_cast<double>(value.load()); });
}

Status NodeMetrics::start(const config::NodeConfig& config) {
  if (config.metrics.listen.empty()) return {};
  counter("cellgate_trust_root_refused_total",
          "Trust-root files this process refused while running (rollback, a skipped version, not "
          "signed by the pinned root's threshold; each also audited as trustRootRefused).",
          trust_root_refusals());
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
void LinkInbox::on_refused(std::string_view reason, std::string_view what) {
  if (log != nullptr) log->log(reason, "link " + link + ": " + std::string(what));
}

void LinkInbox::on_alert(const link::Alert& a) {
  std::fprintf(stderr, "[%s] link alert: %s\n", node.c_str(), a.text.c_str());
}

}  // namespace cg::node
