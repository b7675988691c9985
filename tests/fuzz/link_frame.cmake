cg_fuzz(link_frame SOURCES ${CMAKE_CURRENT_LIST_DIR}/link_frame.cc DEPS cg_link)
