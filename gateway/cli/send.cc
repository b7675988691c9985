#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>

#include "crypto/fixed.h"
#include "gateway/cli/cli.h"
#include "gateway/cli/progress.h"
#include "gateway/common/hex.h"
#include "gateway/common/text.h"
#include "gateway/ingest/ingest.h"
#include "gateway/stix/stix.h"
#include "gateway/wire/wire.h"

namespace cg::cli {
namespace {

Result<std::string> read_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return io_error(path + ": cannot read");
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.size() != 40) return malformed(path + ": expected a 40-character Z85 CURVE key");
  return key;
}

struct Tally {
  std::uint64_t accepted = 0, rejected = 0;
};

void print_ack(const ingest::Ack& ack, bool json, Tally& tally) {
  (ack.accepted ? tally.accepted : tally.rejected)++;
  const std::string id = to_hex(ack.item_id);
  if (json) {
    std::printf(
        "{\"id\":\"%s\",\"accepted\":%s,\"reason\":\"%s\",\"detail\":\"%s\",\"seq\":%llu}\n",
        id.c_str(), ack.accepted ? "true" : "false", ack.reason.c_str(),
        json_escape(ack.detail).c_str(), static_cast<unsigned long long>(ack.ingest_seq));
  } else if (ack.accepted) {
    std::printf("%s accepted seq=%llu\n", id.c_str(),
                static_cast<unsigned long long>(ack.ingest_seq));
  } else {
    std::printf("%s rejected %s: %s\n", id.empty() ? "-" : id.c_str(), ack.reason.c_str(),
                ack.detail.c_str());
  }
  std::fflush(stdout);
}

Result<stix::Mapped> load_stix(const std::string& file, const SendOptions& o) {
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) return io_error("cannot read");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (text.size() > stix::bundle_bytes_max) return malformed("STIX bundle larger than 16 MiB");
  stix::Options options;
  options.source = o.stix_source;
  options.policy_id = o.stix_policy;
  options.levels = o.stix_levels;
  const auto level = std::find(o.stix_levels.begin(), o.stix_levels.end(), o.stix_default_level);
  if (level == o.stix_levels.end()) {
    return malformed("--default-level '" + o.stix_default_level + "' is not one of --levels");
  }
  options.default_label.classification = static_cast<std::uint8_t>(level - o.stix_levels.begin());
  options.now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return stix::to_items(text, options);
}

}  // namespace

int curve_keygen(const std::string& out_file, bool force) {
  ingest::KeyPair keys = ingest::curve_keypair();
  std::string line = keys.secret_z85 + "\n";
  // Created new with mode 0600 (never an existing file's mode, never through a symbolic link).
  const Status s = write_output(
      out_file, {reinterpret_cast<const std::uint8_t*>(line.data()), line.size()}, 0600, force);
  crypto::wipe({reinterpret_cast<std::uint8_t*>(line.data()), line.size()});
  if (!s.ok()) {
    std::fprintf(stderr, "curve keygen: %s\n", s.reason().c_str());
    return s.code() == Code::io ? exit_io : exit_failed;
  }
  std::printf("%s\n", keys.public_z85.c_str());
  return exit_ok;
}

int send(const SendOptions& o) {
  auto secret = read_key_file(o.key_file);
  if (!secret.ok()) {
    std::fprintf(stderr, "send: %s\n", secret.status().reason().c_str());
    return secret.status().code() == Code::io ? exit_io : exit_usage;
  }
  auto pub = ingest::curve_public(*secret);
  if (!pub.ok()) {
    std::fprintf(stderr, "send: %s: %s\n", o.key_file.c_str(), pub.status().reason().c_str());
    return exit_usage;
  }
  auto client =
      ingest::SourceClient::connect(o.gateway, o.gateway_key, {*pub, *secret}, o.timeout_ms);
  if (!client.ok()) {
    std::fprintf(stderr, "send: %s\n", client.status().reason().c_str());
    return client.status().code() == Code::unauthenticated ? exit_failed : exit_io;
  }

  Tally tally;
  std::uint64_t in_flight = 0, unreadable = 0;
  // On a terminal (never with --json): acknowledged so far, out of the files given when each
  // file is one item.
  const bool one_item_per_file =
      !o.stix && std::find(o.files.begin(), o.files.end(), "-") == o.files.end();
  Progress progress("send: acknowledged", one_item_per_file ? o.files.size() : 0, o.json);
  auto drain = [&](std::uint64_t down_to) -> bool {
    while (in_flight > down_to) {
      auto ack = (*client)->receive_ack(o.timeout_ms);
      if (!ack.ok()) {
        progress.finish();
        std::fprintf(stderr, "send: %s (%llu items unacknowledged)\n",
                     ack.status().reason().c_str(), static_cast<unsigned long long>(in_flight));
        return false;
      }
      --in_flight;
      progress.finish();  // the ack line goes where the indicator was
      print_ack(*ack, o.json, tally);
      progress.update(tally.accepted + tally.rejected,
                      tally.rejected ? std::to_string(tally.rejected) + " rejected" : "");
    }
    return true;
  };
  auto submit = [&](std::span<const std::uint8_t> bytes) -> bool {
    if (!drain(o.window - 1)) return false;
    Status s = (*client)->send(bytes, o.timeout_ms);
    if (!s.ok()) {
      std::fprintf(stderr, "send: %s\n", s.reason().c_str());
      return false;
    }
    ++in_flight;
    return true;
  };

  bool ok = true;
  for (const auto& file : o.files) {
    if (file == "-") {
      // One JSON item per line on standard input.
      std::string line;
      std::uint64_t line_no = 0;
      while (ok && std::getline(std::cin, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        auto item = wire::item_from_json(line);
        if (!item.ok()) {
          std::fprintf(stderr, "stdin:%llu: %s\n", static_cast<unsigned long long>(line_no),
                       item.status().to_string().c_str());
          ++unreadable;
          continue;
        }
        ok = submit(wire::to_flat_bytes(*item));
      }
      continue;
    }
    if (o.stix) {
      auto items = load_stix(file, o);
      if (!items.ok()) {
        // No partial import: a bundle with one bad object is refused whole, naming it.
        std::fprintf(stderr, "%s: %s\n", file.c_str(), items.status().to_string().c_str());
        ++unreadable;
        continue;
      }
      for (const auto& item : items->items) {
        ok = submit(wire::to_flat_bytes(item));
        if (!ok) break;
      }
      if (!ok) break;
      continue;
    }
    auto item = load_item(file);
    if (!item.ok()) {
      // The gateway would refuse it for the same reason; say so here and do not send it.
      std::fprintf(stderr, "%s: %s\n", file.c_str(), item.status().to_string().c_str());
      ++unreadable;
      continue;
    }
    ok = submit(wire::to_flat_bytes(*item));
    if (!ok) break;
  }
  if (ok) ok = drain(0);
  progress.finish();
  std::fprintf(stderr, "send: %llu accepted, %llu rejected, %llu not sent (invalid locally)\n",
               static_cast<unsigned long long>(tally.accepted),
               static_cast<unsigned long long>(tally.rejected),
               static_cast<unsigned long long>(unreadable));
  if (!ok) return exit_io;
  return tally.rejected == 0 && unreadable == 0 ? exit_ok : exit_failed;
}

}  // namespace cg::cli
