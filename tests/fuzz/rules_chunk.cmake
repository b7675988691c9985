cg_fuzz(rules_chunk SOURCES ${CMAKE_CURRENT_LIST_DIR}/rules_chunk.cc DEPS cg_approval)
