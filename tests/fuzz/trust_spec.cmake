cg_fuzz(trust_spec SOURCES ${CMAKE_CURRENT_LIST_DIR}/trust_spec.cc DEPS cg_cli)
