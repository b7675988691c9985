#include <csignal>
#include <cstdio>
#include <fstream>

#include "gateway/cli/cli.h"
#include "gateway/common/hex.h"
#include "gateway/common/text.h"
#include "gateway/deliver/deliver.h"
#include "gateway/ingest/ingest.h"
#include "gateway/stix/stix.h"

namespace cg::cli {
namespace {

volatile std::sig_atomic_t interrupted = 0;
void on_signal(int) { interrupted = 1; }

Result<std::string> read_secret(const std::string& path) {
  std::ifstream in(path);
  if (!in) return io_error(path + ": cannot read");
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.size() != 40) return malformed(path + ": expected a 40-character Z85 CURVE key");
  return key;
}

}  // namespace

namespace {

// One STIX 2.1 bundle on one line of stdout: the object and every marking definition it
// references. False (with a warning on stderr) when the item did not come from STIX or cannot
// be written as valid STIX; the caller then writes it as JSON to stderr, so that stdout stays
// pure STIX.
bool print_stix(schema::Item::Reader item, const std::vector<std::string>& levels) {
  auto objects = stix::from_item(item, levels);
  if (!objects.ok()) {
    const std::string id = to_hex({item.getId().begin(), item.getId().size()});
    std::fprintf(stderr,
                 "tail: warning: item %s is not a STIX object (%s); written to stderr as JSON\n",
                 id.c_str(), objects.status().reason().c_str());
    return false;
  }
  std::printf("%s\n", stix::bundle(*objects, stix::random_bundle_id()).c_str());
  return true;
}

}  // namespace

int tail(const TailOptions& o) {
  auto secret = read_secret(o.key_file);
  if (!secret.ok()) {
    std::fprintf(stderr, "tail: %s\n", secret.status().reason().c_str());
    return secret.status().code() == Code::io ? exit_io : exit_usage;
  }
  auto pub = ingest::curve_public(*secret);
  if (!pub.ok()) {
    std::fprintf(stderr, "tail: %s\n", pub.status().reason().c_str());
    return exit_usage;
  }
  auto client = deliver::ConsumerClient::connect(o.receiver, o.receiver_key, {*pub, *secret},
                                                 o.window, o.timeout_ms);
  if (!client.ok()) {
    std::fprintf(stderr, "tail: %s\n", client.status().reason().c_str());
    return client.status().code() == Code::unauthenticated ? exit_failed : exit_io;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::uint64_t received = 0, undecodable = 0;
  int idle_ms = 0;
  while (!interrupted && (o.count == 0 || received < o.count)) {
    auto d = (*client)->receive(200);
    if (!d.ok()) {
      if (d.status().code() != Code::io) {
        ++undecodable;  // a message from the receiver that does not decode: said, not acked
        std::fprintf(stderr, "tail: %s\n", d.status().reason().c_str());
        continue;
      }
      idle_ms += 200;
      if (o.idle_exit_ms > 0 && idle_ms >= o.idle_exit_ms) break;
      continue;
    }
    idle_ms = 0;
    auto item = wire::decode_canonical_item(d->item);
    // The receiver verified and stored this item; decoding it again here guards the consumer
    // against a receiver bug, not against an attacker (the channel is CURVE-authenticated).
    if (!item.ok()) {
      std::fprintf(stderr, "tail: delivery %llu: %s\n",
                   static_cast<unsigned long long>(d->delivery_id),
                   item.status().to_string().c_str());
      ++undecodable;
    } else if (o.format == "stix" && print_stix(item->root(), o.levels)) {
      std::fflush(stdout);
    } else {
      // In STIX mode the JSON form goes to stderr (print_stix said why): stdout is STIX only.
      std::FILE* out = o.format == "stix" ? stderr : stdout;
      std::fprintf(
          out, "{\"origin\":\"%s\",\"stream\":%u,\"seq\":%llu,\"log_index\":%llu,\"item\":%s}\n",
          json_escape(d->origin).c_str(), d->stream, static_cast<unsigned long long>(d->seq),
          static_cast<unsigned long long>(d->log_index), wire::item_to_json(item->root()).c_str());
      std::fflush(out);
    }
    // Acknowledge only after the line is written: a crash before this gets the item again.
    Status s = (*client)->acknowledge(*d);
    if (!s.ok()) {
      std::fprintf(stderr, "tail: %s\n", s.reason().c_str());
      return exit_io;
    }
    ++received;
  }
  std::fprintf(stderr, "tail: %llu items, %llu undecodable\n",
               static_cast<unsigned long long>(received),
               static_cast<unsigned long long>(undecodable));
  return undecodable == 0 ? exit_ok : exit_failed;
}

}  // namespace cg::cli
