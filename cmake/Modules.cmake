# The shape of cellgate: which module may depend on which (docs/DESIGN.md "Modules and their
# dependencies"). One line per module: cg_module(<module> [DIR <folder>] <modules it may use>).
# The folder defaults to gateway/<module>. cg_library (cmake/Helpers.cmake) refuses at
# configure time a module that is not listed here, or whose DEPS name a cg_ module its line
# does not allow; tests/repo/module_includes.cmake (ctest repo.module_includes) checks that a
# module's files include only headers of itself and of what it may use, directly or through
# the modules those may use. A new dependency is a change to this file, made on purpose.
# Tests, benchmarks and fuzz targets may use any module.

# Foundations
cg_module(common)
cg_module(schemas DIR schemas)
cg_module(wire       common schemas)
cg_module(crypto     DIR crypto common)
cg_module(store      common)
cg_module(tomlread   wire)
cg_module(config     common tomlread)
cg_module(metrics    common)
cg_module(edge       common)

# Formats and state, each with its owner
cg_module(trust      wire crypto)
cg_module(approval   trust wire store crypto)
cg_module(envelope   wire crypto trust)
cg_module(policy     wire tomlread)
cg_module(guard      policy wire)
cg_module(stix       wire crypto)
cg_module(link       common crypto)
cg_module(audit      wire store crypto)
cg_module(translog   store crypto)
cg_module(sentlog    store)
cg_module(quarantine trust store wire)
# The release guard's seal-and-sign side: checks (guard), then seals and signs (envelope).
cg_module(signatory  guard envelope approval quarantine trust store wire crypto)

# Edges and recovery
cg_module(ingest     wire store edge)
cg_module(deliver    wire store edge)
cg_module(recovery   envelope wire trust)

# What the three roles share, the roles (one folder each), and the command line
cg_module(node       config crypto approval audit ingest link policy metrics store)
cg_module(roles_gateway DIR gateway/roles/gateway
                     node config crypto approval audit envelope guard ingest link policy quarantine
                     sentlog metrics recovery signatory edge)
cg_module(roles_guard DIR gateway/roles/guard
                     node config crypto approval audit edge signatory metrics store)
cg_module(roles_relay DIR gateway/roles/relay
                     node wire config crypto approval audit deliver envelope link translog metrics)
cg_module(roles_receiver DIR gateway/roles/receiver
                     node config crypto approval audit deliver envelope ingest link recovery metrics)
cg_module(cli        wire audit ingest config deliver tomlread stix crypto approval policy envelope link
                     translog node roles_gateway roles_relay roles_receiver roles_guard quarantine recovery)

# The lab (bench/lab): synthetic traffic, deployments on loopback, cellgate-lab (which shares
# cellgate's exit codes from cli.h). Never used by a product module.
cg_module(synth      DIR bench/lab/synth wire)
cg_module(deploy     DIR bench/lab/deploy common crypto wire approval ingest)
cg_module(traffic    DIR bench/lab/traffic ingest deliver policy synth wire)
cg_module(lab        DIR bench/lab cli wire synth deploy traffic audit ingest config deliver crypto
                     approval policy guard envelope link store sentlog translog)
