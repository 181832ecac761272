"""The desktop client's core without Qt: the services the screens call, their view types and errors.

ui/ renders and dispatches; everything here runs without a window (tests drive it directly).
"""
