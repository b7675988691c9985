// cellgate: one binary, one role per process (see docs/DESIGN.md). main() only parses
// arguments and hands over to the subcommand; each group of subcommands declares its own flags
// and options (commands.h). No globals, no self-registration. The lab (demo, bench) is another
// binary, `cellgate-lab` (bench/lab).
#include <CLI/CLI.hpp>
#include <optional>
#include <vector>

#include "gateway/cli/cli.h"
#include "gateway/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"cellgate — secure one-way exchange gateway"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cellgate 0.1.0");

  // In the order `cellgate --help` lists them.
  const std::vector<cg::cli::CommandGroup> groups = {
      cg::cli::add_item_commands(app),       cg::cli::add_audit_commands(app),
      cg::cli::add_config_commands(app),     cg::cli::add_send_command(app),
      cg::cli::add_tail_command(app),        cg::cli::add_curve_commands(app),
      cg::cli::add_quarantine_commands(app), cg::cli::add_run_command(app),
      cg::cli::add_keygen_command(app),      cg::cli::add_trust_commands(app),
      cg::cli::add_rules_commands(app),      cg::cli::add_policy_commands(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : cg::cli::exit_usage;
  }
  for (const auto& group : groups) {
    if (std::optional<int> rc = group()) return *rc;
  }
  return cg::cli::exit_usage;
}
