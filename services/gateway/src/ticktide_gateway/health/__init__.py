"""Health: `/api/health` (routes, report) and the services page `/api/services`
(services_routes: instances from heartbeats (services, registry) and queue depths
(queues))."""
