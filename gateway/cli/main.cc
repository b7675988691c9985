// cellgate: one binary, one role per process (see ../shared/DESIGN.md). main() only parses
// arguments and hands over to the subcommand; no globals, no self-registration.
#include <CLI/CLI.hpp>

#include "gateway/cli/cli.h"

int main(int argc, char** argv) {
  CLI::App app{"cellgate — secure one-way exchange gateway"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cellgate 0.1.0");

  bool json = false;
  std::vector<std::string> files;
  auto* item = app.add_subcommand("item", "Work with serialised items");
  item->require_subcommand(1);
  auto* check = item->add_subcommand("check", "Decode and validate item files (Cap'n Proto)");
  check->add_option("files", files, "Item files (JSON or Cap'n Proto)")
      ->required()
      ->check(CLI::ExistingFile);
  check->add_flag("--json", json, "One JSON object per file");
  std::string in_file, out_file;
  auto* encode =
      item->add_subcommand("encode", "Write an item (JSON or Cap'n Proto) as Cap'n Proto");
  encode->add_option("in", in_file, "Item file")->required()->check(CLI::ExistingFile);
  encode->add_option("out", out_file, "Output file")->required();
  auto* show = item->add_subcommand("show", "Print an item as JSON");
  show->add_option("file", in_file, "Item file")->required()->check(CLI::ExistingFile);

  std::string store_dir;
  bool audit_json = false;
  auto* audit = app.add_subcommand("audit", "Check audit logs");
  audit->require_subcommand(1);
  auto* audit_verify = audit->add_subcommand("verify", "Verify a node's audit hash chain");
  audit_verify->add_option("--store", store_dir, "The node's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  audit_verify->add_flag("--json", audit_json, "JSON output");

  std::string config_file;
  bool config_json = false;
  auto* config = app.add_subcommand("config", "Node configuration files");
  config->require_subcommand(1);
  auto* config_check = config->add_subcommand("check", "Validate a node config file");
  config_check->add_option("file", config_file, "Config file (TOML)")->required();
  config_check->add_flag("--json", config_json, "JSON output");

  cg::cli::SendOptions send_options;
  auto* send = app.add_subcommand("send", "Submit items to a gateway as a source system");
  send->add_option("--gateway", send_options.gateway, "Gateway ingest endpoint (tcp://host:port)")
      ->required();
  send->add_option("--gateway-key", send_options.gateway_key, "Gateway CURVE public key (Z85)")
      ->required();
  send->add_option("--key-file", send_options.key_file, "This source's CURVE secret key file")
      ->required()
      ->check(CLI::ExistingFile);
  send->add_option("items", send_options.files, "Item files (JSON or Cap'n Proto); - for stdin")
      ->required();
  send->add_option("--window", send_options.window, "Items in flight")->check(CLI::Range(1, 4096));
  send->add_option("--timeout-ms", send_options.timeout_ms, "Ack timeout")
      ->check(CLI::Range(100, 600'000));
  send->add_flag("--json", send_options.json, "One JSON object per ack");
  send->add_flag("--stix", send_options.stix,
                 "Files are STIX 2.1 bundles: each object is sent as one item");
  send->add_option("--source", send_options.stix_source, "With --stix: the items' source name");
  send->add_option("--label-policy", send_options.stix_policy,
                   "With --stix: labelling policy id of the items' labels");
  send->add_option("--levels", send_options.stix_levels,
                   "With --stix: that policy's classification levels, lowest first")
      ->delimiter(',');
  send->add_option("--default-level", send_options.stix_default_level,
                   "With --stix: classification of content no marking labels");

  cg::cli::TailOptions tail_options;
  auto* tail = app.add_subcommand("tail", "Receive items from a receiver as a consumer");
  tail->add_option("--receiver", tail_options.receiver, "Receiver delivery endpoint")->required();
  tail->add_option("--receiver-key", tail_options.receiver_key, "Receiver CURVE public key (Z85)")
      ->required();
  tail->add_option("--key-file", tail_options.key_file, "This consumer's CURVE secret key file")
      ->required()
      ->check(CLI::ExistingFile);
  tail->add_option("--window", tail_options.window, "Unacknowledged items held")
      ->check(CLI::Range(1, 65536));
  tail->add_option("--count", tail_options.count, "Stop after this many items");
  tail->add_option("--idle-exit-ms", tail_options.idle_exit_ms, "Stop after this long idle")
      ->check(CLI::Range(0, 86'400'000));

  std::string curve_out;
  auto* curve = app.add_subcommand("curve", "CurveZMQ keys for sources and consumers");
  curve->require_subcommand(1);
  auto* curve_keygen =
      curve->add_subcommand("keygen", "Write a CURVE secret key, print its public key");
  curve_keygen->add_option("--out", curve_out, "Secret key file to write")->required();

  cg::cli::DemoOptions demo_options;
  auto* demo = app.add_subcommand("demo", "Run the cell on synthetic traffic and report");
  demo->add_option("--items", demo_options.items, "Items to send")
      ->check(CLI::Range(1, 10'000'000));
  demo->add_option("--seed", demo_options.seed, "Traffic seed");
  demo->add_option("--body-bytes", demo_options.body_bytes, "Text bytes per item")
      ->check(CLI::Range(16, 512 * 1024));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : cg::cli::exit_usage;
  }
  if (*check) return cg::cli::item_check(files, json);
  if (*encode) return cg::cli::item_encode(in_file, out_file);
  if (*show) return cg::cli::item_show(in_file);
  if (*demo) return cg::cli::demo(demo_options);
  if (*send) return cg::cli::send(send_options);
  if (*tail) return cg::cli::tail(tail_options);
  if (*config_check) return cg::cli::config_check(config_file, config_json);
  if (*curve_keygen) return cg::cli::curve_keygen(curve_out);
  if (*audit_verify) return cg::cli::audit_verify(store_dir, audit_json);
  return cg::cli::exit_usage;
}
