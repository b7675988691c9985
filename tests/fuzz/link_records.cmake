cg_fuzz(link_records SOURCES ${CMAKE_CURRENT_LIST_DIR}/link_records.cc DEPS cg_recovery)
