cg_fuzz(guard_messages SOURCES ${CMAKE_CURRENT_LIST_DIR}/guard_messages.cc DEPS cg_signatory)
