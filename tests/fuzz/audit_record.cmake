cg_fuzz(audit_record SOURCES ${CMAKE_CURRENT_LIST_DIR}/audit_record.cc DEPS cg_audit)
