#include <cstdio>
// cellgate: one binary, one role per process (see docs/DESIGN.md). main() only parses
// arguments and hands over to the subcommand; no globals, no self-registration.
#include <CLI/CLI.hpp>

#include "gateway/cli/bench.h"
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
  bool force = false;
  const char* force_help =
      "Replace an existing output file (never a symbolic link or special file)";
  encode->add_flag("--force", force, force_help);
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
  std::uint64_t prove_index = 0, prove_size = 0;
  std::string prove_suite = "modern";
  auto* audit_prove = audit->add_subcommand(
      "prove", "Print (and check) the inclusion proof of a relay log entry, as JSON");
  audit_prove->add_option("--store", store_dir, "The relay's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  audit_prove->add_option("index", prove_index, "Log index (a delivery's log_index)")->required();
  audit_prove->add_option("--size", prove_size, "Tree size to prove against (default: all)");
  audit_prove->add_option("--suite", prove_suite, "The deployment's suite")
      ->check(CLI::IsMember({"modern", "cnsa"}));

  std::string heads_out, heads_in, consistency_root;
  auto* audit_heads = audit->add_subcommand(
      "heads", "Export the relay's tree heads a receiver kept, for the other party");
  audit_heads->add_option("--store", store_dir, "The receiver's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  audit_heads->add_option("--out", heads_out, "File to write")->required();
  audit_heads->add_flag("--force", force, force_help);
  auto* audit_consistency = audit->add_subcommand(
      "check-consistency",
      "Check that the relay showed this receiver one append-only history, and the same one as "
      "the other party (exit 1 when it did not)");
  audit_consistency->add_option("--store", store_dir, "The receiver's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  audit_consistency->add_option("--trust-root", consistency_root, "The deployment's trust root")
      ->required()
      ->check(CLI::ExistingFile);
  audit_consistency
      ->add_option("--heads", heads_in, "The other party's heads (cellgate audit heads)")
      ->check(CLI::ExistingFile);
  audit_consistency->add_flag("--json", audit_json, "JSON output");

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
  tail->add_option("--format", tail_options.format, "json (default) or stix (STIX 2.1 bundles)")
      ->check(CLI::IsMember({"json", "stix"}));
  tail->add_option("--levels", tail_options.levels,
                   "With --format stix: the labelling policy's level names, lowest first")
      ->delimiter(',');
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
  curve_keygen->add_option("--out", curve_out, "Secret key file to write (created new, 0600)")
      ->required();
  curve_keygen->add_flag("--force", force, force_help);

  auto* quarantine = app.add_subcommand("quarantine", "Items a gateway holds for a reviewer");
  quarantine->require_subcommand(1);
  std::string q_store;
  std::uint64_t q_hold = 0;
  bool q_json = false;
  auto* q_list = quarantine->add_subcommand("list", "List the holds");
  q_list->add_option("--store", q_store, "The gateway's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  q_list->add_flag("--json", q_json, "One JSON object per hold");
  auto* q_show = quarantine->add_subcommand("show", "One hold: why, and the item");
  q_show->add_option("--store", q_store, "The gateway's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  q_show->add_option("hold", q_hold, "Hold id")->required();
  cg::cli::QuarantineDecisionOptions decision;
  std::string q_config;
  auto* q_release = quarantine->add_subcommand(
      "release", "Release a hold: sign it as a reviewer; the running gateway sends the item");
  auto* q_reject = quarantine->add_subcommand(
      "reject", "Reject a hold: sign it as a reviewer; the running gateway drops the item");
  for (auto* cmd : {q_release, q_reject}) {
    cmd->add_option("--config", q_config,
                    "The gateway's config: its store, party and trust root (reviewers)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("hold", decision.hold, "Hold id")->required();
    cmd->add_option("--wait", decision.wait_s,
                    "Seconds to wait for the running gateway's verdict (0: do not wait)")
        ->check(CLI::Range(0, 3600));
  }
  q_reject->add_option("--reason", decision.reason, "Why (signed, and audited)")->required();

  std::string run_config;
  auto* run = app.add_subcommand(
      "run", "Run a node (gateway, relay or receiver) from its config until stopped");
  run->add_option("--config", run_config, "Node config (TOML)")
      ->required()
      ->check(CLI::ExistingFile);

  cg::cli::BenchOptions bench_options;
  auto* bench = app.add_subcommand(
      "bench", "Measure throughput on this machine: stages, baselines, the whole cell");
  bench->add_option("--policy", bench_options.policy, "Policy for the stage benchmarks")
      ->check(CLI::ExistingFile);
  bench->add_option("--json", bench_options.json, "Write the results as JSON here (\"\": none)");
  bench->add_option("--filter", bench_options.filter, "Only micro-benchmarks matching this regex");
  bench->add_option("--min-time", bench_options.min_time, "Seconds per micro-benchmark")
      ->check(CLI::Range(0.01, 60.0));
  bench->add_option("--items", bench_options.e2e_items, "Items through the cell end to end")
      ->check(CLI::Range(1000, 100'000'000));
  bench->add_option("--body-bytes", bench_options.body_bytes, "Text bytes per item (end to end)")
      ->check(CLI::Range(16, 524288));
  bench
      ->add_option("--growth-items", bench_options.growth_items,
                   "Store growth up to this many items (0: skip; 10000000 for the goal)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{100'000'000}));
  bench->add_flag("!--no-micro", bench_options.micro, "Skip the micro-benchmarks");
  bench->add_flag("!--no-cell", bench_options.cell, "Skip the end-to-end runs");
  bench->add_flag("!--no-progress", bench_options.progress, "No progress line");

  cg::cli::DemoOptions demo_options;
  auto* demo = app.add_subcommand("demo", "Run the cell on synthetic traffic and report");
  demo->add_option("--items", demo_options.items, "Items to send (half each way)")
      ->check(CLI::Range(1, 10'000'000));
  demo->add_option("--seed", demo_options.seed, "Traffic seed");
  demo->add_option("--policy", demo_options.policy, "The il policy the reviewers approve")
      ->check(CLI::ExistingFile);
  demo->add_option("--sy-policy", demo_options.sy_policy, "The sy policy its reviewers approve")
      ->check(CLI::ExistingFile);
  demo->add_flag("--keep", demo_options.keep,
                 "Keep the deployment folder (configs, stores, logs) after a successful run");
  demo->add_option("--link-rate", demo_options.link_bytes_per_s, "Pacing of each link, bytes/s")
      ->check(CLI::Range(1'000'000, 1'000'000'000));
  demo->add_option("--body-bytes", demo_options.body_bytes, "Text bytes per item")
      ->check(CLI::Range(16, 512 * 1024));

  auto add_key_options = [](CLI::App* cmd, cg::cli::KeyOptions& k, bool key_required) {
    if (key_required) {
      cmd->add_option("--key", k.key_file, "Private key file")
          ->required()
          ->check(CLI::ExistingFile);
    }
    cmd->add_option("--passphrase-file", k.passphrase_file,
                    "File whose first line is the key passphrase")
        ->check(CLI::ExistingFile);
    cmd->add_flag(
        "--unencrypted", k.unencrypted,
        "The private key file is (or is to be) stored unencrypted: a deliberate decision");
  };

  cg::cli::KeygenOptions keygen_options;
  auto* keygen =
      app.add_subcommand("keygen", "Write a node's signing and key-agreement keys, or a link key");
  keygen->add_option("--node", keygen_options.node, "Node id (file names)");
  keygen->add_option("--dir", keygen_options.dir, "Directory for the key files");
  keygen->add_option("--suite", keygen_options.suite, "modern, modern-aes or cnsa");
  add_key_options(keygen, keygen_options.keys, false);
  keygen->add_flag("--link", keygen_options.link, "Write a 32-byte link MAC key to --out instead");
  keygen->add_option("--out", keygen_options.out, "Link key file (with --link)");
  keygen->add_flag("--force", keygen_options.force, "Replace existing key files (still 0600)");

  auto* trust = app.add_subcommand("trust", "Trust roots: parties, reviewers, nodes, root keys");
  trust->require_subcommand(1);
  std::string trust_spec, trust_file, trust_out, trust_previous;
  cg::cli::KeyOptions trust_key;
  auto* trust_create = trust->add_subcommand("create", "An unsigned trust root from a TOML spec");
  trust_create->add_option("spec", trust_spec, "Spec file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  trust_create->add_option("--out", trust_out, "Trust root file to write")->required();
  trust_create->add_flag("--force", force, force_help);
  auto* trust_sign = trust->add_subcommand("sign", "Add one root key's signature");
  trust_sign->add_option("root", trust_file, "Trust root file")
      ->required()
      ->check(CLI::ExistingFile);
  add_key_options(trust_sign, trust_key, true);
  trust_sign->add_option("--out", trust_out, "Write here instead of in place");
  trust_sign->add_flag("--force", force, "Replace an existing --out file");
  auto* trust_verify = trust->add_subcommand("verify", "Check a trust root as a node would");
  trust_verify->add_option("root", trust_file, "Trust root file")
      ->required()
      ->check(CLI::ExistingFile);
  trust_verify->add_option("--previous", trust_previous, "The root it replaces")
      ->check(CLI::ExistingFile);

  auto* rules = app.add_subcommand("rules", "Rules bundles: the reviewers' workflow");
  rules->require_subcommand(1);
  cg::cli::RulesProposeOptions propose_options;
  auto* rules_propose =
      rules->add_subcommand("propose", "An unsigned bundle with the next version");
  rules_propose->add_option("policy", propose_options.policy, "Policy file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  rules_propose->add_option("--party", propose_options.party, "Party (default: the policy's)");
  rules_propose->add_option("--previous", propose_options.previous, "The bundle this one replaces")
      ->check(CLI::ExistingFile);
  rules_propose->add_option("--suite", propose_options.suite,
                            "Deployment suite (hash of the previous bundle)");
  rules_propose->add_option("--expires-days", propose_options.expires_days, "Validity")
      ->check(CLI::Range(1, 3650));
  rules_propose->add_option("--out", propose_options.out, "Bundle file to write")->required();
  rules_propose->add_flag("--force", propose_options.force,
                          "Replace an existing --out file (and the signatures it held)");
  std::string bundle_file, bundle_out, bundle_root, diff_old, diff_new, impact_items;
  cg::cli::KeyOptions approve_key;
  auto* rules_approve = rules->add_subcommand("approve", "Add one reviewer's signature");
  rules_approve->add_option("bundle", bundle_file, "Bundle file")
      ->required()
      ->check(CLI::ExistingFile);
  add_key_options(rules_approve, approve_key, true);
  add_key_options(q_release, decision.key, true);
  add_key_options(q_reject, decision.key, true);
  rules_approve->add_option("--out", bundle_out, "Write here instead of in place");
  rules_approve->add_flag("--force", force, "Replace an existing --out file");
  rules_approve
      ->add_option("--trust-root", bundle_root,
                   "The deployment's trust root: the key must be a reviewer of the bundle's party")
      ->required()
      ->check(CLI::ExistingFile);
  auto* rules_verify =
      rules->add_subcommand("verify", "Which signatures count; is the threshold met");
  rules_verify->add_option("bundle", bundle_file, "Bundle file")
      ->required()
      ->check(CLI::ExistingFile);
  rules_verify->add_option("--trust-root", bundle_root, "Trust root file")
      ->required()
      ->check(CLI::ExistingFile);
  auto* rules_diff =
      rules->add_subcommand("diff", "Rule-level differences between two bundles or policies");
  rules_diff->add_option("old", diff_old, "Old bundle or policy")
      ->required()
      ->check(CLI::ExistingFile);
  rules_diff->add_option("new", diff_new, "New bundle or policy")
      ->required()
      ->check(CLI::ExistingFile);
  auto* rules_impact =
      rules->add_subcommand("impact", "Every decision on a corpus that the change alters");
  rules_impact->add_option("old", diff_old, "Old bundle or policy")
      ->required()
      ->check(CLI::ExistingFile);
  rules_impact->add_option("new", diff_new, "New bundle or policy")
      ->required()
      ->check(CLI::ExistingFile);
  rules_impact->add_option("--items", impact_items, "Directory of item files")
      ->required()
      ->check(CLI::ExistingDirectory);
  bool impact_json = false;
  rules_impact->add_flag("--json", impact_json,
                         "One JSON object per changed decision, then a summary object");

  auto* policy = app.add_subcommand("policy", "Releasability policies");
  policy->require_subcommand(1);
  std::string explain_policy, explain_item, explain_destination;
  bool explain_json = false;
  auto* policy_explain = policy->add_subcommand("explain", "Decide one item and say why");
  policy_explain->add_option("--policy", explain_policy, "Policy or bundle file")
      ->required()
      ->check(CLI::ExistingFile);
  policy_explain->add_option("--item", explain_item, "Item file (JSON or Cap'n Proto)")
      ->required()
      ->check(CLI::ExistingFile);
  policy_explain->add_option("--destination", explain_destination, "Only this destination");
  policy_explain->add_flag("--json", explain_json, "JSON output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : cg::cli::exit_usage;
  }
  if (*check) return cg::cli::item_check(files, json);
  if (*encode) return cg::cli::item_encode(in_file, out_file, force);
  if (*show) return cg::cli::item_show(in_file);
  if (*demo) return cg::cli::demo(demo_options);
  if (*bench) return cg::cli::bench(bench_options);
  if (*run) return cg::cli::run(run_config);
  if (*q_list) return cg::cli::quarantine_list(q_store, q_json);
  if (*q_show) return cg::cli::quarantine_show(q_store, q_hold);
  if (*q_reject) return cg::cli::quarantine_reject(q_config, decision);
  if (*q_release) return cg::cli::quarantine_release(q_config, decision);
  if (*send) return cg::cli::send(send_options);
  if (*tail) return cg::cli::tail(tail_options);
  if (*config_check) return cg::cli::config_check(config_file, config_json);
  if (*curve_keygen) return cg::cli::curve_keygen(curve_out, force);
  if (*audit_verify) return cg::cli::audit_verify(store_dir, audit_json);
  if (*audit_heads) return cg::cli::audit_heads(store_dir, heads_out, force);
  if (*audit_consistency)
    return cg::cli::audit_check_consistency(store_dir, consistency_root, heads_in, audit_json);
  if (*audit_prove) {
    return cg::cli::audit_prove(
        store_dir, prove_index, prove_size,
        prove_suite == "cnsa" ? cg::crypto::SuiteId::cnsa : cg::crypto::SuiteId::modern);
  }
  if (*keygen) {
    if (keygen_options.link ? keygen_options.out.empty() : keygen_options.node.empty()) {
      std::fprintf(stderr, "keygen: give --node ID (node keys) or --link --out FILE (link key)\n");
      return cg::cli::exit_usage;
    }
    return cg::cli::keygen(keygen_options);
  }
  if (*trust_create) return cg::cli::trust_create(trust_spec, trust_out, force);
  if (*trust_sign) return cg::cli::trust_sign(trust_file, trust_key, trust_out, force);
  if (*trust_verify) return cg::cli::trust_verify(trust_file, trust_previous);
  if (*rules_propose) return cg::cli::rules_propose(propose_options);
  if (*rules_approve) {
    return cg::cli::rules_approve(bundle_file, approve_key, bundle_root, bundle_out, force);
  }
  if (*rules_verify) return cg::cli::rules_verify(bundle_file, bundle_root);
  if (*rules_diff) return cg::cli::rules_diff(diff_old, diff_new);
  if (*rules_impact) return cg::cli::rules_impact(diff_old, diff_new, impact_items, impact_json);
  if (*policy_explain) {
    return cg::cli::policy_explain(explain_policy, explain_item, explain_destination, explain_json);
  }
  return cg::cli::exit_usage;
}
