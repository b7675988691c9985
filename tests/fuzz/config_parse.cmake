cg_fuzz(config_parse SOURCES ${CMAKE_CURRENT_LIST_DIR}/config_parse.cc DEPS cg_config)
