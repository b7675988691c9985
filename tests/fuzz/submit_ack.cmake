cg_fuzz(submit_ack SOURCES ${CMAKE_CURRENT_LIST_DIR}/submit_ack.cc DEPS cg_ingest)
