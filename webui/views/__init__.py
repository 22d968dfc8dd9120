"""Portal views: thin. They check access, validate input with a form, call a service and
render; the work lives in the domain apps' services and in ``webui``'s service modules."""
