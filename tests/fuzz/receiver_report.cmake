cg_fuzz(receiver_report SOURCES ${CMAKE_CURRENT_LIST_DIR}/receiver_report.cc DEPS cg_recovery)
