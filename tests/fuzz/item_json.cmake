cg_fuzz(item_json SOURCES ${CMAKE_CURRENT_LIST_DIR}/item_json.cc DEPS cg_wire)
