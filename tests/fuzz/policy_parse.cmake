cg_fuzz(policy_parse SOURCES ${CMAKE_CURRENT_LIST_DIR}/policy_parse.cc DEPS cg_policy cg_testing)
