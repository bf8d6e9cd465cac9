package org.elasticsearch.node;

import java.util.Map;
import java.util.Set;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

/**
 * A node whose plugins are classpath instances rather than distribution folders.
 *
 * Lives in the Elasticsearch package because node construction with a custom plugins
 * service is package-private. Building the node here, instead of through the
 * distribution's launcher, also skips the launcher's root-user refusal and bootstrap
 * checks, which the test suite (run as root) could not pass.
 */
public class EmbeddedNode extends Node {

    public EmbeddedNode(Environment environment, Map<String, Plugin> plugins) {
        super(NodeConstruction.prepareConstruction(environment, noDistributionPlugins(), new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader loader) {
                return new ClasspathPluginsService(env, loader, plugins);
            }
        }, true));
    }

    private static PluginsLoader noDistributionPlugins() {
        // Server exports are only meaningful when the server runs as a named module,
        // which it is not on a plain classpath.
        return PluginsLoader.createPluginsLoader(Set.of(), Set.of(), Map.of(), false);
    }
}
