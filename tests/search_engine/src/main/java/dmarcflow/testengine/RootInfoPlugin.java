package dmarcflow.testengine;

import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.ClusterState;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestChannel;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

/**
 * Serves GET / and HEAD / (node name, cluster, version).
 *
 * In a distribution this endpoint comes from the rest-root module, which is not
 * published to Maven Central; the Python client's info() and ping() need it.
 */
public final class RootInfoPlugin extends Plugin implements ActionPlugin {

    private volatile ClusterService clusterService;

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService = services.clusterService();
        return List.of();
    }

    @Override
    public Collection<RestHandler> getRestHandlers(
            RestHandlersServices services, Supplier<DiscoveryNodes> nodes, Predicate<NodeFeature> features) {
        return List.of(new RootHandler());
    }

    private final class RootHandler extends BaseRestHandler {
        @Override
        public String getName() {
            return "dmarcflow_root";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            return this::respond;
        }

        private void respond(RestChannel channel) throws java.io.IOException {
            ClusterState state = clusterService.state();
            XContentBuilder body = channel.newBuilder()
                    .startObject()
                    .field("name", clusterService.getNodeName())
                    .field("cluster_name", state.getClusterName().value())
                    .field("cluster_uuid", state.metadata().clusterUUID())
                    .startObject("version")
                    .field("number", Build.current().version())
                    .field("lucene_version", org.apache.lucene.util.Version.LATEST.toString())
                    .endObject()
                    .field("tagline", "You Know, for Search")
                    .endObject();
            channel.sendResponse(new RestResponse(RestStatus.OK, body));
        }
    }
}
