cg_fuzz(bundle_chunk SOURCES ${CMAKE_CURRENT_LIST_DIR}/bundle_chunk.cc DEPS cg_approval)
